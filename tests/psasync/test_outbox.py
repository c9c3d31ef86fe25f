"""The transactional outbox: recording time writes one WriteBack in the same transaction,
and the send is queued only once that transaction commits."""

import pytest
from django.db import transaction

from psasync.actions import retry_now
from psasync.models import Operation, WriteBack, WriteBackState
from psasync.sending import send_writeback
from tests.factories import UserFactory
from tickets.models import TimeEntry

pytestmark = pytest.mark.django_db


@pytest.fixture
def sdm(db):
    return UserFactory(username="sdm", is_staff=True, is_superuser=True)


def test_recording_time_writes_one_pending_create(connect, log_time):
    _, connection = connect("connectwise")
    entry = log_time()

    writeback = WriteBack.objects.get()
    assert writeback.entry == entry
    assert writeback.client == connection.client
    assert writeback.connection == connection
    assert writeback.operation == Operation.CREATE
    assert writeback.state == WriteBackState.PENDING
    assert writeback.attempts == 0
    assert writeback.next_attempt_at is not None
    assert writeback.origin is None


def test_a_rolled_back_recording_leaves_neither_entry_nor_writeback(
    connect, log_time, django_capture_on_commit_callbacks
):
    sim, _ = connect("connectwise")
    with (
        django_capture_on_commit_callbacks(execute=True) as callbacks,
        pytest.raises(RuntimeError),
        transaction.atomic(),
    ):
        entry = log_time()
        # Written inside the recording transaction, beside the entry...
        assert WriteBack.objects.filter(entry=entry).count() == 1
        raise RuntimeError("the caller's transaction fails after recording")

    # ...and gone with it: no entry, no write-back, no send queued, nothing sent.
    assert not TimeEntry.objects.exists()
    assert not WriteBack.objects.exists()
    assert callbacks == []
    assert sim.requests == []


def test_a_client_without_a_psa_gets_no_writeback(acme, log_time):
    assert acme.psa_kind == "none"
    log_time()

    assert TimeEntry.objects.count() == 1
    assert not WriteBack.objects.exists()


def set_psa_kind(desk, kind: str) -> None:
    """The MSP says which PSA it uses (on the client the desk's ticket holds)."""
    client = desk[2].client
    client.psa_kind = kind
    client.save(update_fields=["psa_kind"])


def test_a_client_with_a_psa_kind_but_no_connection_gets_a_failed_writeback(desk, log_time):
    set_psa_kind(desk, "autotask")
    log_time()

    writeback = WriteBack.objects.get()
    assert writeback.state == WriteBackState.FAILED
    assert writeback.connection is None
    assert "Acme IT has no PSA connection" in writeback.last_error
    assert "then retry" in writeback.last_error


def test_retry_now_after_connecting_sends_the_failed_writeback(
    desk, connect, log_time, run_jobs, sdm
):
    set_psa_kind(desk, "connectwise")
    with run_jobs():
        log_time(summary="Replaced the toner.")
    assert WriteBack.objects.get().state == WriteBackState.FAILED

    sim, connection = connect("connectwise")
    with run_jobs():
        retry_now(WriteBack.objects.get(), sdm)

    writeback = WriteBack.objects.get()
    assert writeback.state == WriteBackState.SENT, writeback.last_error
    assert writeback.connection == connection
    assert [e["summary"] for e in sim.entries()] == ["Replaced the toner."]


def test_the_send_waits_for_the_commit(connect, log_time, run_jobs):
    sim, _ = connect("connectwise")
    with run_jobs():
        log_time()
        # Still inside the recording's transaction: nothing may have left yet.
        assert sim.requests == []
        assert WriteBack.objects.get().state == WriteBackState.PENDING

    assert WriteBack.objects.get().state == WriteBackState.SENT
    assert len(sim.entries()) == 1


def test_the_send_is_queued_on_the_psa_queue_only_on_commit(
    connect, log_time, redis_queues, django_capture_on_commit_callbacks
):
    sim, _ = connect("connectwise")
    psa = redis_queues["psa"]
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        log_time()
    assert psa.count == 0

    # django-rq itself waits for the commit inside a transaction: run what it defers too.
    with django_capture_on_commit_callbacks(execute=True):
        for callback in callbacks:
            callback()

    [job] = psa.get_jobs()
    assert job.func is send_writeback
    assert job.args == (WriteBack.objects.get().pk,)
    assert sim.requests == []
