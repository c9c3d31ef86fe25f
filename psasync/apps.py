from django.apps import AppConfig


class PsasyncConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "psasync"
