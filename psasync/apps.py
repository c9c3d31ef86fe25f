from django.apps import AppConfig


class PsasyncConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "psasync"
    verbose_name = "PSA write-back"

    def ready(self) -> None:
        from . import outbox  # noqa: F401 (connects the outbox to tickets' time signals)
