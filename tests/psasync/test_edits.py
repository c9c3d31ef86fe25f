"""Changing or deleting logged time (tickets.actions.change_time / void_time) reaches the
PSA through the same outbox, or is refused where the PSA forbids it."""

from datetime import timedelta

import pytest
from django.core.exceptions import ValidationError
from django.utils import timezone

from psasync import sending
from psasync.actions import retry_now
from psasync.connectors import connector_class
from psasync.models import AttemptOutcome, Operation, WriteBack, WriteBackState
from psasync.sending import send_writeback
from psasync.simulator import Faults
from tests.factories import UserFactory
from tickets.actions import change_time, void_time
from tickets.models import TicketEvent, TimeEntry

pytestmark = pytest.mark.django_db

KINDS = ["connectwise", "autotask", "halopsa", "syncro"]


@pytest.fixture
def user(desk):
    """The agent who logs the time, and changes it."""
    return desk[1].user


def create_of(entry: TimeEntry) -> WriteBack:
    return WriteBack.objects.get(entry=entry, operation=Operation.CREATE)


def make_due(*writebacks: WriteBack) -> None:
    WriteBack.objects.filter(pk__in=[w.pk for w in writebacks]).update(
        next_attempt_at=timezone.now()
    )


@pytest.fixture
def sent_entry(log_time, run_jobs):
    """sent_entry(sim) -> a 30-minute entry already in that PSA."""

    def log(sim) -> TimeEntry:
        with run_jobs():
            entry = log_time(minutes=30, summary="Cleared the print queue.")
        assert create_of(entry).state == WriteBackState.SENT, create_of(entry).last_error
        assert len(sim.entries()) == 1
        return entry

    return log


# --- changes --------------------------------------------------------------------------


@pytest.mark.parametrize("kind", KINDS)
def test_changing_a_sent_entry_updates_it_in_the_psa(kind, connect, sent_entry, run_jobs, user):
    sim, _ = connect(kind)
    entry = sent_entry(sim)
    [before] = sim.entries()

    with run_jobs():
        change_time(
            entry,
            user,
            summary="Cleared the queue and updated the driver.",
            started_at=entry.ended_at - timedelta(minutes=45),
        )

    update = WriteBack.objects.get(operation=Operation.UPDATE)
    assert update.state == WriteBackState.SENT, update.last_error
    assert update.origin == create_of(entry)
    [after] = sim.entries()
    assert after["id"] == before["id"]
    assert after["summary"] == "Cleared the queue and updated the driver."
    assert (before["hours"], after["hours"]) == (0.5, 0.75)
    assert after["marker"] == update.marker == create_of(entry).marker


def test_changing_a_never_tried_entry_lets_the_create_carry_the_new_values(
    connect, log_time, run_jobs, user
):
    sim, _ = connect("connectwise")
    entry = log_time(summary="First words.")  # recorded; its send has not run yet

    change_time(entry, user, summary="Better words.")

    assert list(WriteBack.objects.values_list("operation", flat=True)) == [Operation.CREATE]
    assert send_writeback(create_of(entry).pk) == AttemptOutcome.SENT
    assert [e["summary"] for e in sim.entries()] == ["Better words."]


def test_changing_only_private_notes_sends_nothing(connect, sent_entry, run_jobs, user):
    sim, _ = connect("connectwise")
    entry = sent_entry(sim)
    requests = len(sim.requests)

    with run_jobs():
        change_time(entry, user, private_notes="Printer is on its last legs.")

    assert TimeEntry.objects.get().private_notes == "Printer is on its last legs."
    assert WriteBack.objects.count() == 1
    assert len(sim.requests) == requests


def test_an_update_waits_while_its_create_is_still_sending(connect, log_time, monkeypatch, user):
    sim, _ = connect("connectwise")
    connector = connector_class("connectwise")
    entry = log_time(summary="First words.")
    update_outcomes = []
    add_time = connector.add_time

    def add_then_edit(self, ticket_id, payload):
        remote = add_time(self, ticket_id, payload)
        # The create is in the PSA but its worker has not recorded it: the agent edits,
        # and the update's job runs at once.
        change_time(entry, user, summary="Better words.")
        update = WriteBack.objects.get(operation=Operation.UPDATE)
        update_outcomes.append(send_writeback(update.pk))
        return remote

    monkeypatch.setattr(connector, "add_time", add_then_edit)
    assert send_writeback(create_of(entry).pk) == AttemptOutcome.SENT

    update = WriteBack.objects.get(operation=Operation.UPDATE)
    assert update_outcomes == ["skipped"]
    assert (update.state, update.attempts) == (WriteBackState.PENDING, 0)
    assert update.next_attempt_at > timezone.now()
    assert [e["summary"] for e in sim.entries()] == ["First words."]

    make_due(update)
    assert send_writeback(update.pk) == AttemptOutcome.SENT
    assert [e["summary"] for e in sim.entries()] == ["Better words."]


def test_an_edit_after_a_lost_answer_reaches_the_psa_once_the_create_is_adopted(
    connect, log_time, run_jobs, user
):
    sim, _ = connect("connectwise")
    entry = log_time(summary="First words.")
    sim.set_faults(Faults(lost_rate=1.0))
    assert send_writeback(create_of(entry).pk) == AttemptOutcome.RETRY
    sim.set_faults(Faults())

    with run_jobs():
        change_time(entry, user, summary="Better words.")
    update = WriteBack.objects.get(operation=Operation.UPDATE)
    make_due(create_of(entry))
    assert send_writeback(create_of(entry).pk) == AttemptOutcome.ADOPTED
    make_due(update)
    send_writeback(update.pk)

    assert WriteBack.objects.get(pk=update.pk).state == WriteBackState.SENT
    assert [e["summary"] for e in sim.entries()] == ["Better words."]


def test_an_edit_while_the_create_had_given_up_reaches_the_psa_when_the_sdm_retries(
    connect, log_time, run_jobs, user, monkeypatch
):
    monkeypatch.setattr(sending, "MAX_ATTEMPTS", 1)
    sim, _ = connect("connectwise")
    entry = log_time(summary="First words.")
    sim.set_faults(Faults(lost_rate=1.0))
    assert send_writeback(create_of(entry).pk) == AttemptOutcome.FAILED  # yet in the PSA
    sim.set_faults(Faults())

    with run_jobs():
        change_time(entry, user, summary="Better words.")
    with run_jobs():
        retry_now(create_of(entry), UserFactory(username="sdm", is_staff=True))

    assert create_of(entry).state == WriteBackState.SENT
    assert [e["summary"] for e in sim.entries()] == ["Better words."]


# --- deletes --------------------------------------------------------------------------


@pytest.mark.parametrize("kind", KINDS)
def test_voiding_a_sent_entry_deletes_it_in_the_psa(kind, connect, sent_entry, run_jobs, user):
    sim, _ = connect(kind)
    entry = sent_entry(sim)

    with run_jobs():
        void_time(entry, user, reason="Logged on the wrong ticket.")

    delete = WriteBack.objects.get(operation=Operation.DELETE)
    assert delete.state == WriteBackState.SENT, delete.last_error
    assert delete.origin == create_of(entry)
    assert sim.entries() == []


def test_voiding_a_never_tried_entry_cancels_its_create(connect, log_time, run_jobs, user):
    sim, _ = connect("connectwise")
    entry = log_time()

    with run_jobs():
        void_time(entry, user, reason="Logged twice.")

    create = create_of(entry)
    assert create.state == WriteBackState.CANCELLED
    assert "deleted before it was sent" in create.last_error
    assert WriteBack.objects.count() == 1
    assert send_writeback(create.pk) == "skipped"
    assert sim.requests == []


# --- where the PSA forbids it -----------------------------------------------------------


@pytest.fixture
def locked_connectwise(monkeypatch):
    """ConnectWise as if its API kept sent time read-only (no kind does so today)."""
    connector = connector_class("connectwise")
    monkeypatch.setattr(connector, "refusal", "time entries are locked once posted")

    def lock(operation: str) -> None:
        monkeypatch.setattr(connector, f"can_{operation}", False)

    return lock


def test_a_change_the_psa_forbids_is_refused_and_nothing_changes(
    connect, sent_entry, run_jobs, user, locked_connectwise
):
    sim, _ = connect("connectwise")
    entry = sent_entry(sim)
    locked_connectwise("update")
    requests = len(sim.requests)

    with run_jobs(), pytest.raises(ValidationError) as refused:
        change_time(entry, user, summary="Better words.")

    message = refused.value.messages[0]
    assert message.startswith("ConnectWise PSA does not let us change time once it is sent")
    assert "time entries are locked once posted" in message
    assert TimeEntry.objects.get().summary == "Cleared the print queue."
    assert WriteBack.objects.count() == 1
    assert not TicketEvent.objects.filter(kind="time_changed").exists()
    assert len(sim.requests) == requests


def test_a_delete_the_psa_forbids_is_refused_and_nothing_changes(
    connect, sent_entry, run_jobs, user, locked_connectwise
):
    sim, _ = connect("connectwise")
    entry = sent_entry(sim)
    locked_connectwise("delete")

    with run_jobs(), pytest.raises(ValidationError) as refused:
        void_time(entry, user, reason="Logged on the wrong ticket.")

    assert refused.value.messages[0].startswith(
        "ConnectWise PSA does not let us delete time once it is sent"
    )
    assert TimeEntry.objects.get().voided_at is None
    assert WriteBack.objects.count() == 1
    assert not TicketEvent.objects.filter(kind="time_deleted").exists()
    assert len(sim.entries()) == 1
