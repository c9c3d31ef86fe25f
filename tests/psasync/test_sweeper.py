"""The sweeper (psasync.sweeper): no write-back waits forever for a job that was lost."""

from datetime import timedelta

import pytest
from django.utils import timezone

from desklib.jobs import jobs_are_async
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


def test_running_the_sweeper_twice_does_not_send_twice(connect, log_time, run_jobs):
    sim, _ = connect("connectwise")
    log_time()
    writeback = WriteBack.objects.get()
    due(writeback, -600)

    with run_jobs():
        first = requeue_stale_writebacks()
        second = requeue_stale_writebacks()

    assert first == 1
    if jobs_are_async():
        assert second == 1  # nothing ran between the sweeps: the row was queued twice
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
    due(writeback, -600)
    with django_capture_on_commit_callbacks(execute=True):
        requeue_stale_writebacks()  # queued by the sweeper

    jobs = redis_queues["psa"].jobs
    assert [job.args for job in jobs] == [(writeback.pk,), (writeback.pk,)]
    for job in jobs:
        assert job.timeout < STALE_SENDING.total_seconds()
