from django.apps import AppConfig


class EcommerceConfig(AppConfig):
    name = "ecommerce"
    verbose_name = "E-commerce"
