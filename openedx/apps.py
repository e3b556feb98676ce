from django.apps import AppConfig


class OpenedxConfig(AppConfig):
    name = "openedx"
    verbose_name = "Open edX"
