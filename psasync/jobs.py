"""The psa queue's jobs: each names the write-back it sends, so the sweeper can
tell a row whose job still waits (behind a backlog, or until its retry time)
from a row whose job was lost (Redis flushed, a worker killed mid-dequeue).

Without the distinction the sweeper would queue a second job for every row
still waiting behind a long backlog: harmless (a row is claimed under its lock,
once) but a flood of empty jobs just when the queue is busiest.
"""

import uuid
from datetime import timedelta

from desklib.jobs import jobs_are_async

QUEUE = "psa"
PREFIX = "psa-wb-"


def job_id(writeback_id: int) -> str:
    """A fresh id per job (rq ids must be unique) that names the row it sends."""
    return f"{PREFIX}{writeback_id}-{uuid.uuid4().hex[:12]}"


def writeback_of(job: str) -> int | None:
    if not job.startswith(PREFIX):
        return None
    number = job[len(PREFIX) :].split("-", 1)[0]
    return int(number) if number.isdigit() else None


def queue_send(writeback_id: int, delay: float | None = None) -> None:
    """Send the write-back now (inline without Redis) or after `delay` seconds.

    Raises when Redis is unreachable; callers log it and leave the row to the sweeper.
    Inline, a delayed send is left to the sweeper or the SDM's "retry now".
    """
    from .sending import JOB_TIMEOUT, send_writeback

    if not jobs_are_async():
        if delay is None:
            send_writeback(writeback_id)
        return
    import django_rq

    queue = django_rq.get_queue(QUEUE)
    options = {"job_id": job_id(writeback_id), "job_timeout": JOB_TIMEOUT}
    if delay is None:
        queue.enqueue(send_writeback, writeback_id, **options)
    else:
        queue.enqueue_in(timedelta(seconds=delay), send_writeback, writeback_id, **options)


def waiting_sends(late_seconds: float) -> set[int]:
    """Write-backs with a job that is queued, running, or scheduled for a time no more
    than `late_seconds` ago (a scheduled job later than that has no scheduler to
    move it, so it does not count). Empty without Redis."""
    if not jobs_are_async():
        return set()
    import time

    import django_rq

    queue = django_rq.get_queue(QUEUE)
    redis = queue.connection
    jobs = list(queue.get_job_ids())
    jobs += queue.started_job_registry.get_job_ids()
    scheduled = redis.zrangebyscore(
        queue.scheduled_job_registry.key, time.time() - late_seconds, "+inf"
    )
    jobs += [j.decode() if isinstance(j, bytes) else j for j in scheduled]
    return {pk for pk in map(writeback_of, jobs) if pk is not None}
