"""Background job dispatch: RQ when REDIS_URL is set, inline otherwise."""

from collections.abc import Callable
from typing import Any

from django.conf import settings


def jobs_are_async() -> bool:
    return bool(settings.REDIS_URL)


def enqueue(
    queue: str, func: Callable[..., Any], *args: Any, job_id: str | None = None, **kwargs: Any
) -> None:
    """Run `func(*args, **kwargs)` on the RQ queue `queue`, or right here without Redis.

    Callers use it from `transaction.on_commit`, so a job never sees uncommitted rows.
    `job_id` names the job, so that `is_pending` can tell whether it still waits.
    """
    if not jobs_are_async():
        func(*args, **kwargs)
        return
    import django_rq

    django_rq.get_queue(queue).enqueue(func, *args, job_id=job_id, **kwargs)


PENDING = {"queued", "started", "scheduled", "deferred"}


def is_pending(job_id: str) -> bool:
    """Whether a job of that id waits or runs (always False without Redis)."""
    if not jobs_are_async():
        return False
    import django_rq
    from rq.exceptions import NoSuchJobError
    from rq.job import Job

    try:
        job = Job.fetch(job_id, connection=django_rq.get_connection("default"))
    except NoSuchJobError:
        return False
    return job.get_status() in PENDING
