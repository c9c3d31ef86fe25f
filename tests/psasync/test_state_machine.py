"""One write-back's life: pending → sending → sent | failed, retries with backoff, and
exactly one entry in the PSA after an answer was lost."""

import json
from datetime import timedelta

import httpx
import pytest
from django.utils import timezone

from desklib.jobs import jobs_are_async
from psasync import sending
from psasync.actions import retry_now
from psasync.models import AttemptOutcome, WriteBack, WriteBackState
from psasync.sending import backoff, build_connector, send_writeback
from psasync.simulator import Faults, Limits
from tests.factories import UserFactory
from tests.psasync.conftest import PSA_NUMBER

pytestmark = pytest.mark.django_db

KINDS = ["connectwise", "autotask", "halopsa", "syncro"]


@pytest.fixture(autouse=True)
def _clear_scheduled_retries():
    """A retry is scheduled on the real psa queue (with Redis); none outlives its test."""

    def clear():
        if jobs_are_async():
            import django_rq

            registry = django_rq.get_queue("psa").scheduled_job_registry
            for job_id in registry.get_job_ids():
                registry.remove(job_id, delete_job=True)

    clear()
    yield
    clear()


def reload(writeback: WriteBack) -> WriteBack:
    return WriteBack.objects.get(pk=writeback.pk)


def make_due(writeback: WriteBack) -> None:
    """The backoff has passed (instead of waiting for it)."""
    WriteBack.objects.filter(pk=writeback.pk).update(next_attempt_at=timezone.now())


def warm_up(connection) -> None:
    """One lookup before faults are injected, as a worker that ran before would have done:
    HaloPSA's token and Autotask's zone are cached, so a fault hits the write itself."""
    with httpx.Client() as http:
        build_connector(connection, http).find_ticket(PSA_NUMBER[connection.kind])


def posts(sim) -> list:
    return [r for r in sim.requests if r.method in ("POST", "PUT", "PATCH")]


# --- the happy path -------------------------------------------------------------------


def test_a_send_goes_pending_sending_sent_and_keeps_the_remote_id(connect, log_time, monkeypatch):
    sim, _ = connect("connectwise")
    log_time(summary="Cleared the print queue.")
    writeback = WriteBack.objects.get()
    seen = []
    perform = sending._perform

    def watching(row, connector):
        seen.append(reload(row).state)  # what another worker would read meanwhile
        return perform(row, connector)

    monkeypatch.setattr(sending, "_perform", watching)

    assert send_writeback(writeback.pk) == AttemptOutcome.SENT

    writeback = reload(writeback)
    [remote] = sim.entries()
    assert seen == [WriteBackState.SENDING]
    assert writeback.state == WriteBackState.SENT
    assert writeback.remote_id == str(remote["id"])
    assert writeback.sent_payload["notes"] == "Cleared the print queue."
    assert writeback.sent_payload["internalNotes"] == writeback.marker == remote["marker"]
    assert writeback.attempts == 1
    assert writeback.sent_at is not None
    assert writeback.sending_since is None
    assert writeback.last_error == ""
    assert list(writeback.attempt_log.values_list("outcome", flat=True)) == ["sent"]


# --- failures ---------------------------------------------------------------------------


def test_a_refusal_fails_at_once_with_the_psas_own_message(connect, log_time):
    sim, connection = connect("connectwise")
    connection.credentials = {**sim.credentials(), "private_key": "wrong"}
    connection.save()
    log_time()
    writeback = WriteBack.objects.get()

    assert send_writeback(writeback.pk) == AttemptOutcome.FAILED

    writeback = reload(writeback)
    assert writeback.state == WriteBackState.FAILED
    assert writeback.last_error == "ConnectWise PSA 401: Incorrect public/private key"
    assert writeback.last_status == 401
    assert writeback.next_attempt_at is None
    [attempt] = writeback.attempt_log.all()
    assert attempt.outcome == AttemptOutcome.FAILED
    assert attempt.status == 401
    assert attempt.message == writeback.last_error
    assert len(sim.requests) == 1  # not tried again
    connection.refresh_from_db()
    assert connection.last_failure_at is not None
    assert "Incorrect public/private key" in connection.last_error


@pytest.mark.parametrize(
    ("faults", "limits", "status"),
    [
        (Faults(error_rate=1.0), None, 500),
        (Faults(latency=0.5), None, None),
        (None, Limits(requests=1, per_seconds=60), 429),
    ],
    ids=["5xx", "timeout", "429"],
)
def test_a_passing_failure_goes_back_to_pending_for_later(
    connect, log_time, faults, limits, status
):
    _, connection = connect("connectwise", faults=faults, limits=limits)
    connection.timeout_seconds = 0.2
    connection.save()
    log_time()
    writeback = WriteBack.objects.get()

    before = timezone.now()
    assert send_writeback(writeback.pk) == AttemptOutcome.RETRY

    writeback = reload(writeback)
    assert writeback.state == WriteBackState.PENDING
    assert writeback.attempts == 1
    assert writeback.next_attempt_at > before + timedelta(seconds=sending.BACKOFF_BASE / 2 - 1)
    assert writeback.sending_since is None
    assert writeback.last_status == status
    assert writeback.last_error
    [attempt] = writeback.attempt_log.all()
    assert (attempt.outcome, attempt.status) == (AttemptOutcome.RETRY, status)


def test_a_429s_retry_after_sets_the_next_attempt(connect, log_time):
    # One request per minute: the ticket lookup passes, the POST is answered 429.
    sim, _ = connect("connectwise", limits=Limits(requests=1, per_seconds=60))
    log_time()
    writeback = WriteBack.objects.get()

    before = timezone.now()
    send_writeback(writeback.pk)

    assert sim.statuses[429] == 1
    # Retry-After was about 60 s, far beyond the first backoff (at most BACKOFF_BASE).
    wait = (reload(writeback).next_attempt_at - before).total_seconds()
    assert sending.BACKOFF_BASE < 58 <= wait <= 61


def test_it_gives_up_after_max_attempts_since_the_sdms_last_retry(connect, log_time, monkeypatch):
    monkeypatch.setattr(sending, "MAX_ATTEMPTS", 3)
    connect("connectwise", faults=Faults(error_rate=1.0))
    log_time()
    writeback = WriteBack.objects.get()

    for _ in range(2):
        assert send_writeback(writeback.pk) == AttemptOutcome.RETRY
        make_due(writeback)
    assert send_writeback(writeback.pk) == AttemptOutcome.FAILED

    writeback = reload(writeback)
    assert writeback.state == WriteBackState.FAILED
    assert writeback.last_error.startswith("Gave up after 3 attempts. Last: ConnectWise PSA 500")

    retry_now(writeback, UserFactory(username="sdm", is_staff=True))
    assert send_writeback(writeback.pk) == AttemptOutcome.RETRY  # counts afresh

    writeback = reload(writeback)
    assert (writeback.state, writeback.attempts) == (WriteBackState.PENDING, 4)


# --- backoff ----------------------------------------------------------------------------


def test_backoff_doubles_each_attempt_up_to_the_cap(monkeypatch):
    monkeypatch.setattr(sending.random, "uniform", lambda low, high: high)
    base, cap = sending.BACKOFF_BASE, sending.BACKOFF_CAP

    delays = [backoff(n) for n in range(1, 6)]

    assert delays == [base, base * 2, base * 4, base * 8, base * 16]
    assert backoff(30) == backoff(200) == cap


def test_backoff_jitters_within_the_upper_half_of_its_ceiling():
    for attempts in (1, 4, 8, 40):
        ceiling = min(sending.BACKOFF_CAP, sending.BACKOFF_BASE * 2 ** (attempts - 1))
        delays = {backoff(attempts) for _ in range(200)}
        assert all(ceiling / 2 <= delay <= ceiling for delay in delays)
        assert len(delays) > 100  # jittered, not one fixed value


def test_backoff_is_never_sooner_than_retry_after():
    assert backoff(1, retry_after=300) == 300
    assert backoff(2, retry_after=0.5) >= sending.BACKOFF_BASE
    assert backoff(40, retry_after=4000) == 4000
    assert backoff(40, retry_after=5) >= sending.BACKOFF_CAP / 2


# --- jobs that must do nothing ------------------------------------------------------------


@pytest.mark.parametrize(
    "state", [WriteBackState.SENDING, WriteBackState.FAILED, WriteBackState.CANCELLED]
)
def test_a_job_for_a_row_that_is_not_pending_does_nothing(connect, log_time, state):
    sim, _ = connect("connectwise")
    log_time()
    WriteBack.objects.update(state=state)

    assert send_writeback(WriteBack.objects.get().pk) == "skipped"

    writeback = WriteBack.objects.get()
    assert (writeback.state, writeback.attempts) == (state, 0)
    assert sim.requests == []


def test_a_job_for_a_row_not_yet_due_does_nothing(connect, log_time):
    sim, _ = connect("connectwise")
    log_time()
    later = timezone.now() + timedelta(minutes=5)
    WriteBack.objects.update(next_attempt_at=later)

    assert send_writeback(WriteBack.objects.get().pk) == "skipped"

    writeback = WriteBack.objects.get()
    assert (writeback.state, writeback.attempts) == (WriteBackState.PENDING, 0)
    assert writeback.next_attempt_at == later
    assert sim.requests == []


def test_a_job_for_a_disabled_connection_does_nothing(connect, log_time):
    sim, connection = connect("connectwise")
    connection.enabled = False
    connection.save()
    log_time()

    assert send_writeback(WriteBack.objects.get().pk) == "skipped"

    writeback = WriteBack.objects.get()
    assert (writeback.state, writeback.attempts) == (WriteBackState.PENDING, 0)
    assert sim.requests == []


def test_two_jobs_for_one_row_send_it_once(connect, log_time):
    sim, _ = connect("connectwise")
    log_time()
    pk = WriteBack.objects.get().pk

    outcomes = [send_writeback(pk), send_writeback(pk)]

    assert outcomes == [AttemptOutcome.SENT, "skipped"]
    assert len(sim.entries()) == 1
    assert len(posts(sim)) == 1
    assert WriteBack.objects.get().attempts == 1


def test_a_retry_is_scheduled_on_the_psa_queue_for_its_next_attempt(
    connect, log_time, redis_queues
):
    connect("connectwise", faults=Faults(error_rate=1.0))
    log_time()
    writeback = WriteBack.objects.get()

    send_writeback(writeback.pk)

    registry = redis_queues["psa"].scheduled_job_registry
    [job_id] = registry.get_job_ids()
    job = redis_queues["psa"].fetch_job(job_id)
    assert job.args == (writeback.pk,)
    scheduled = registry.get_scheduled_time(job_id)
    assert abs((scheduled - reload(writeback).next_attempt_at).total_seconds()) < 2


# --- exactly once after an ambiguous failure ---------------------------------------------


def assert_adopted_once(sim, writeback: WriteBack) -> None:
    writeback = reload(writeback)
    [remote] = sim.entries()
    assert writeback.state == WriteBackState.SENT, writeback.last_error
    assert writeback.remote_id == str(remote["id"])
    assert remote["marker"] == writeback.marker
    assert "Cleared the print queue." in json.dumps(writeback.sent_payload)  # audited too
    assert list(writeback.attempt_log.order_by("started_at").values_list("outcome", flat=True)) == [
        AttemptOutcome.RETRY,
        AttemptOutcome.ADOPTED,
    ]


@pytest.mark.parametrize("kind", KINDS)
def test_a_lost_answer_ends_with_one_remote_entry_adopted(kind, connect, log_time):
    sim, connection = connect(kind)
    warm_up(connection)
    log_time()
    writeback = WriteBack.objects.get()

    sim.set_faults(Faults(lost_rate=1.0))
    assert send_writeback(writeback.pk) == AttemptOutcome.RETRY
    assert len(sim.entries()) == 1  # applied, though we never heard so

    sim.set_faults(Faults())
    make_due(writeback)
    assert send_writeback(writeback.pk) == AttemptOutcome.ADOPTED

    assert_adopted_once(sim, writeback)


@pytest.mark.parametrize("kind", KINDS)
def test_a_write_applied_but_answered_too_late_ends_with_one_remote_entry(kind, connect, log_time):
    sim, connection = connect(kind)
    warm_up(connection)
    connection.timeout_seconds = 0.3
    connection.save()
    log_time()
    writeback = WriteBack.objects.get()

    sim.set_faults(Faults(timeout_rate=1.0, hang=0.7))
    assert send_writeback(writeback.pk) == AttemptOutcome.RETRY
    assert "did not answer in time" in reload(writeback).last_error

    sim.set_faults(Faults())
    make_due(writeback)
    assert send_writeback(writeback.pk) == AttemptOutcome.ADOPTED

    assert_adopted_once(sim, writeback)
