"""The sweeper (psasync.sweeper): no write-back waits forever for a job that was lost."""

import time
from datetime import timedelta

import pytest
from django.utils import timezone

from psasync.models import WriteBack
from psasync.sending import send_writeback
from psasync.sweeper import STALE_SENDING, requeue_stale_writebacks

pytestmark = pytest.mark.django_db


def abandoned(writeback: WriteBack, seconds_ago: float) -> None:
    """As a worker killed mid-send leaves its row: sending, one attempt made."""
    WriteBack.objects.filter(pk=writeback.pk).update(
        state="sending",
        attempts=1,
        sending_since=timezone.now() - timedelta(seconds=seconds_ago),
    )


def due(writeback: WriteBack, seconds_from_now: float) -> None:
    WriteBack.objects.filter(pk=writeback.pk).update(
        next_attempt_at=timezone.now() + timedelta(seconds=seconds_from_now)
    )


def outcomes(writeback: WriteBack) -> list[str]:
    return [a.outcome for a in writeback.attempt_log.order_by("started_at", "pk")]


def test_a_row_sending_for_too_long_goes_back_to_pending_and_is_queued(
    redis_queues, connect, log_time, django_capture_on_commit_callbacks
):
    sim, _ = connect("connectwise")
    log_time()
    writeback = WriteBack.objects.get()
    abandoned(writeback, seconds_ago=600)

    with django_capture_on_commit_callbacks(execute=True):
        assert requeue_stale_writebacks(stale_seconds=300) == 1

    writeback.refresh_from_db()
    assert (writeback.state, writeback.sending_since) == ("pending", None)
    assert writeback.next_attempt_at <= timezone.now()
    [attempt] = writeback.attempt_log.all()
    assert attempt.outcome == "retry"
    assert "The worker stopped mid-attempt" in attempt.message
    assert [job.args for job in redis_queues["psa"].jobs] == [(writeback.pk,)]
    assert sim.requests == []


def test_a_row_sending_within_the_stale_limit_is_left_to_its_worker(connect, log_time, run_jobs):
    sim, _ = connect("connectwise")
    log_time()
    writeback = WriteBack.objects.get()
    abandoned(writeback, seconds_ago=30)

    with run_jobs():
        assert requeue_stale_writebacks(grace_seconds=0, stale_seconds=300) == 0

    writeback.refresh_from_db()
    assert writeback.state == "sending"
    assert not writeback.attempt_log.exists()
    assert sim.requests == []


def test_an_abandoned_send_the_psa_never_saw_is_sent_once(connect, log_time, run_jobs):
    sim, _ = connect("connectwise")
    log_time()
    writeback = WriteBack.objects.get()
    abandoned(writeback, seconds_ago=600)

    with run_jobs():
        assert requeue_stale_writebacks(stale_seconds=300) == 1

    writeback.refresh_from_db()
    assert writeback.state == "sent"
    assert outcomes(writeback) == ["retry", "sent"]
    assert [entry["marker"] for entry in sim.entries()] == [writeback.marker]


def test_an_abandoned_send_the_psa_applied_is_adopted_not_sent_again(connect, log_time, run_jobs):
    sim, _ = connect("connectwise")
    log_time()
    writeback = WriteBack.objects.get()
    assert send_writeback(writeback.pk) == "sent"
    # The worker died after the PSA applied the entry, before it recorded the answer.
    WriteBack.objects.filter(pk=writeback.pk).update(remote_id="", sent_at=None)
    writeback.attempt_log.all().delete()
    abandoned(writeback, seconds_ago=600)

    with run_jobs():
        assert requeue_stale_writebacks(stale_seconds=300) == 1

    writeback.refresh_from_db()
    [remote] = sim.entries()
    assert (writeback.state, writeback.remote_id) == ("sent", str(remote["id"]))
    assert outcomes(writeback) == ["retry", "adopted"]


def test_a_pending_row_overdue_past_the_grace_is_queued_and_sent(connect, log_time, run_jobs):
    sim, _ = connect("connectwise")
    log_time()  # its on-commit job never runs here: as if Redis had lost it
    writeback = WriteBack.objects.get()
    due(writeback, -600)

    with run_jobs():
        assert requeue_stale_writebacks(grace_seconds=120) == 1

    writeback.refresh_from_db()
    assert writeback.state == "sent"
    assert len(sim.entries()) == 1


def test_a_row_not_yet_due_or_still_within_the_grace_is_not_queued(connect, log_time, run_jobs):
    sim, _ = connect("connectwise")
    log_time(), log_time()
    retrying, just_recorded = WriteBack.objects.order_by("pk")
    due(retrying, 300)  # its backoff runs for five more minutes
    due(just_recorded, -30)  # its own job is surely still on its way

    with run_jobs():
        assert requeue_stale_writebacks(grace_seconds=120) == 0

    assert set(WriteBack.objects.values_list("state", flat=True)) == {"pending"}
    assert sim.requests == []


def test_a_row_of_a_disabled_connection_waits_until_it_is_enabled(connect, log_time, run_jobs):
    sim, connection = connect("connectwise")
    connection.enabled = False
    connection.save(update_fields=["enabled"])
    log_time()
    writeback = WriteBack.objects.get()
    due(writeback, -600)

    with run_jobs():
        assert requeue_stale_writebacks() == 0
    writeback.refresh_from_db()
    assert writeback.state == "pending"
    assert sim.requests == []

    connection.enabled = True
    connection.save(update_fields=["enabled"])
    with run_jobs():
        assert requeue_stale_writebacks() == 1
    writeback.refresh_from_db()
    assert writeback.state == "sent"


def test_running_the_sweeper_twice_does_not_send_twice(
    connect, log_time, run_jobs, django_capture_on_commit_callbacks
):
    sim, _ = connect("connectwise")
    log_time()
    writeback = WriteBack.objects.get()
    due(writeback, -600)

    with django_capture_on_commit_callbacks(execute=True):
        first = requeue_stale_writebacks()
    with run_jobs():
        second = requeue_stale_writebacks()  # the first sweep's job still waits (or ran)

    assert (first, second) == (1, 0)
    writeback.refresh_from_db()
    assert writeback.state == "sent"
    assert outcomes(writeback) == ["sent"]
    assert len(sim.entries()) == 1
    assert [r.method for r in sim.requests].count("POST") == 1


def test_rq_stops_a_send_before_the_sweeper_takes_its_row_for_abandoned(
    redis_queues, connect, log_time, django_capture_on_commit_callbacks
):
    # Otherwise a send still running (a PSA answering slowly) is swept, a second worker
    # claims the row, and both may create the entry.
    connect("connectwise")
    with django_capture_on_commit_callbacks(execute=True):
        log_time()  # queued by the outbox
    writeback = WriteBack.objects.get()
    [from_the_outbox] = redis_queues["psa"].jobs
    redis_queues["psa"].empty()  # lost
    due(writeback, -600)
    with django_capture_on_commit_callbacks(execute=True):
        requeue_stale_writebacks()  # queued by the sweeper

    [from_the_sweeper] = redis_queues["psa"].jobs
    for job in (from_the_outbox, from_the_sweeper):
        assert job.args == (writeback.pk,)
        assert job.timeout < STALE_SENDING.total_seconds()


def test_a_row_whose_job_still_waits_behind_a_backlog_is_not_queued_again(
    redis_queues, connect, log_time, django_capture_on_commit_callbacks
):
    # A long queue (thousands of entries after an outage) must not be doubled by the
    # sweeper each minute: only rows whose job is gone are queued.
    connect("connectwise")
    with django_capture_on_commit_callbacks(execute=True):
        log_time(), log_time()
    waiting, lost = WriteBack.objects.order_by("pk")
    for job in redis_queues["psa"].jobs:
        if job.args == (lost.pk,):
            job.cancel()
            job.delete()
    due(waiting, -600)
    due(lost, -600)

    with django_capture_on_commit_callbacks(execute=True):
        assert requeue_stale_writebacks(grace_seconds=120) == 1

    assert sorted(job.args for job in redis_queues["psa"].jobs) == [(waiting.pk,), (lost.pk,)]


def test_a_retry_scheduled_in_time_waits_but_one_long_overdue_is_queued(
    redis_queues, connect, log_time, django_capture_on_commit_callbacks
):
    # A scheduled retry long past its time has no scheduler to move it: queue it now.
    from psasync.jobs import queue_send

    connect("connectwise")
    log_time(), log_time()
    on_time, stuck = WriteBack.objects.order_by("pk")
    with django_capture_on_commit_callbacks(execute=True):
        queue_send(on_time.pk, delay=60)
        queue_send(stuck.pk, delay=60)
    registry = redis_queues["psa"].scheduled_job_registry
    [stuck_job] = [j for j in registry.get_job_ids() if j.startswith(f"psa-wb-{stuck.pk}-")]
    registry.connection.zadd(registry.key, {stuck_job: time.time() - 600})
    due(on_time, -600)  # as the sweeper sees them: both overdue in the database
    due(stuck, -600)

    with django_capture_on_commit_callbacks(execute=True):
        assert requeue_stale_writebacks(grace_seconds=120) == 1

    assert [job.args for job in redis_queues["psa"].jobs] == [(stuck.pk,)]


def test_job_ids_name_the_write_back_they_send():
    from psasync.jobs import job_id, writeback_of

    first, second = job_id(42), job_id(42)
    assert first != second  # rq job ids are unique
    assert writeback_of(first) == writeback_of(second) == 42
    assert writeback_of("intake-42") is None
    assert writeback_of("psa-wb-x-1") is None
