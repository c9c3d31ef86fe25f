"""Background job dispatch: RQ when REDIS_URL is set, inline otherwise."""

from collections.abc import Callable
from typing import Any

from django.conf import settings


def jobs_are_async() -> bool:
    return bool(settings.REDIS_URL)


def enqueue(queue: str, func: Callable[..., Any], *args: Any, **kwargs: Any) -> None:
    """Run `func(*args, **kwargs)` on the RQ queue `queue`, or right here without Redis.

    Callers use it from `transaction.on_commit`, so a job never sees uncommitted rows.
    """
    if not jobs_are_async():
        func(*args, **kwargs)
        return
    import django_rq

    django_rq.get_queue(queue).enqueue(func, *args, **kwargs)
