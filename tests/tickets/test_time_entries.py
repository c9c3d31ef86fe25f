"""Logging time: the summary the MSP sees, notes it never sees, and no impossible entries."""

from datetime import timedelta

import pytest
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone

from tests.factories import make_agent
from tests.intake_helpers import ingest
from tests.mails import build_mail
from tickets.actions import record_time
from tickets.models import Team, TimeEntry
from tickets.signals import time_entry_recorded

pytestmark = pytest.mark.django_db


@pytest.fixture
def setup(acme):
    team = Team.objects.create(name="Night shift")
    team.clients.add(acme)
    ticket = ingest(build_mail()).ticket
    return ticket, make_agent("alex", team)


NOW = timezone.now()


def hours_ago(n: float):
    return NOW - timedelta(hours=n)


def test_an_entry_keeps_summary_notes_and_duration_and_is_audited(setup):
    ticket, agent = setup
    entry = record_time(
        ticket, agent, hours_ago(2), hours_ago(1.5), "  Reset the user's Outlook profile. ",
        private_notes="User was rude; password was 'hunter2'", billable=False, work_type="phone",
    )  # fmt: skip
    entry.refresh_from_db()
    assert entry.summary == "Reset the user's Outlook profile."
    assert entry.duration == timedelta(minutes=30)
    assert (entry.billable, entry.work_type) == (False, "phone")
    assert "hunter2" in entry.private_notes
    event = ticket.events.get(kind="time_logged")
    assert event.new_value["minutes"] == 30.0
    assert "hunter2" not in str(event.new_value) + event.note


@pytest.mark.parametrize(
    ("start", "end", "summary", "field", "message"),
    [
        (2, 2, "Did work", "ended_at", "after the start"),  # zero
        (1, 2, "Did work", "ended_at", "after the start"),  # negative
        (30, 5, "Did work", "ended_at", "longer than 24 hours"),
        (1, -2, "Did work", "ended_at", "in the future"),
        (2, 1, "   ", "summary", "brief summary"),
        (2, 1, "x" * 501, "summary", "under 500 characters"),
    ],
)
def test_impossible_entries_are_refused_with_a_clear_message(
    setup, start, end, summary, field, message
):
    ticket, agent = setup
    with pytest.raises(ValidationError) as refused:
        record_time(ticket, agent, hours_ago(start), hours_ago(end), summary)
    assert message in " ".join(refused.value.message_dict[field])
    assert not TimeEntry.objects.exists()


def test_overlapping_entries_for_the_same_agent_are_refused(setup):
    ticket, agent = setup
    record_time(ticket, agent, hours_ago(3), hours_ago(2), "First call")
    with pytest.raises(ValidationError, match=f"Overlaps your entry on {ticket.reference}"):
        record_time(ticket, agent, hours_ago(2.5), hours_ago(1), "Second call")
    record_time(ticket, agent, hours_ago(2), hours_ago(1), "Right after: fine")  # touching is fine
    assert TimeEntry.objects.count() == 2


def test_another_agent_may_log_the_same_hour(setup):
    ticket, agent = setup
    other = make_agent("sam", *agent.teams.all())
    record_time(ticket, agent, hours_ago(3), hours_ago(2), "Pair work")
    record_time(ticket, other, hours_ago(3), hours_ago(2), "Pair work")
    assert TimeEntry.objects.count() == 2


def test_an_agent_cannot_log_time_on_another_teams_ticket(setup, globex):
    ticket, _ = setup
    outsider = make_agent("sam", Team.objects.create(name="Globex team"))
    with pytest.raises(ValidationError, match="not in your teams"):
        record_time(ticket, outsider, hours_ago(2), hours_ago(1), "Peeked")


def test_the_database_refuses_what_the_action_would(setup):
    ticket, agent = setup
    now = timezone.now()
    with pytest.raises(IntegrityError), transaction.atomic():
        TimeEntry.objects.create(
            ticket=ticket, agent=agent, started_at=now, ended_at=now, duration=timedelta(0),
            summary="x",
        )  # fmt: skip


def test_recording_time_tells_the_layers_above_in_the_same_transaction(setup):
    ticket, agent = setup
    heard = []

    def listener(sender, entry, **kwargs):
        heard.append((entry.pk, transaction.get_connection().in_atomic_block))

    time_entry_recorded.connect(listener)
    try:
        entry = record_time(ticket, agent, hours_ago(2), hours_ago(1), "Fixed it")
    finally:
        time_entry_recorded.disconnect(listener)
    assert heard == [(entry.pk, True)]
