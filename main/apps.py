from django.apps import AppConfig


class MainConfig(AppConfig):
    name = "main"
    verbose_name = "Main"

    def ready(self) -> None:
        from anymail.signals import tracking

        from main.mail_tracking import mail_tracking_record

        tracking.connect(mail_tracking_record, dispatch_uid="main.mail_tracking")
