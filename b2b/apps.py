from django.apps import AppConfig


class B2BConfig(AppConfig):
    name = "b2b"
    verbose_name = "B2B contracts"
