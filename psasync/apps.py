from django.apps import AppConfig


class PsasyncConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "psasync"
    verbose_name = "PSA write-back"

    def ready(self) -> None:
        from . import outbox  # noqa: F401 (connects the outbox to tickets' time signals)
        from .connectors.base import tls_context

        tls_context()  # built once here, inherited by every job rq forks from this process
