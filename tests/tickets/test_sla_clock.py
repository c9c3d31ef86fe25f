"""Deadlines on each client's calendar, and the clock paused while we wait."""

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from django.utils import timezone

from clients.models import BusinessCalendar, CalendarException, SlaPolicy, SlaTarget
from tests.intake_helpers import ingest
from tests.mails import build_mail
from tickets import sla
from tickets.actions import INTAKE_ACTOR, change_status
from tickets.models import Ticket

pytestmark = pytest.mark.django_db
LONDON = ZoneInfo("Europe/London")
NEW_YORK = ZoneInfo("America/New_York")


def office_hours(client, country="", subdiv="") -> BusinessCalendar:
    calendar = BusinessCalendar.objects.create(
        client=client, holiday_country=country, holiday_subdivision=subdiv
    )
    for weekday in range(5):
        calendar.hours.create(weekday=weekday, opens=time(9), closes=time(17))
    return calendar


def policy(client, business_hours_only=True, **targets) -> SlaPolicy:
    policy = SlaPolicy.objects.create(client=client, business_hours_only=business_hours_only)
    for priority, (respond, resolve) in (targets or {"P3": (60, 480)}).items():
        SlaTarget.objects.create(
            policy=policy, priority=priority, first_response_minutes=respond,
            resolution_minutes=resolve,
        )  # fmt: skip
    return policy


def ticket_at(client, when: datetime, priority="P3") -> Ticket:
    return Ticket(client=client, subject="x", priority=priority, created_at=when.astimezone(UTC))


def test_deadlines_count_the_clients_business_hours(acme):
    office_hours(acme)
    policy(acme, P3=(60, 480))
    ticket = ticket_at(acme, datetime(2026, 12, 4, 16, 30, tzinfo=LONDON))  # Friday 16:30
    respond, resolve = sla.deadlines(ticket)
    assert respond.astimezone(LONDON) == datetime(2026, 12, 7, 9, 30, tzinfo=LONDON)
    assert resolve.astimezone(LONDON) == datetime(2026, 12, 7, 16, 30, tzinfo=LONDON)


def test_a_24x7_policy_counts_every_hour(acme):
    office_hours(acme)
    policy(acme, business_hours_only=False, P3=(60, 480))
    start = datetime(2026, 12, 4, 16, 30, tzinfo=LONDON)
    respond, resolve = sla.deadlines(ticket_at(acme, start))
    assert (respond, resolve) == (start + timedelta(hours=1), start + timedelta(hours=8))


def test_public_holidays_of_the_clients_country_are_closed(acme):
    acme.timezone = "America/New_York"
    acme.save()
    office_hours(acme, country="US", subdiv="NY")
    policy(acme, P3=(60, 480))
    # Wednesday before Thanksgiving (26 November 2026), 16:30.
    respond, _ = sla.deadlines(ticket_at(acme, datetime(2026, 11, 25, 16, 30, tzinfo=NEW_YORK)))
    assert respond.astimezone(NEW_YORK) == datetime(2026, 11, 27, 9, 30, tzinfo=NEW_YORK)


def test_a_dated_closure_is_closed(acme):
    calendar = office_hours(acme)
    CalendarException.objects.create(calendar=calendar, date=date(2026, 12, 7), note="office move")
    policy(acme, P3=(60, 480))
    respond, _ = sla.deadlines(ticket_at(acme, datetime(2026, 12, 4, 16, 30, tzinfo=LONDON)))
    assert respond.astimezone(LONDON) == datetime(2026, 12, 8, 9, 30, tzinfo=LONDON)


def test_deadlines_stay_right_across_the_autumn_clock_change(acme):
    office_hours(acme)
    policy(acme, P3=(120, 480))
    # Friday 23 October 16:00 BST; the clocks go back on Sunday 25 October.
    respond, _ = sla.deadlines(ticket_at(acme, datetime(2026, 10, 23, 16, tzinfo=LONDON)))
    assert respond == datetime(2026, 10, 26, 10, tzinfo=UTC)  # Monday 10:00 GMT


def test_without_a_target_for_the_priority_there_is_no_deadline(acme):
    policy(acme, P1=(15, 240))
    assert sla.deadlines(ticket_at(acme, timezone.now(), priority="P3")) == (None, None)


def test_intake_sets_priority_and_deadlines_on_new_tickets(acme):
    policy(acme, business_hours_only=False, P3=(30, 240))
    ticket = ingest(build_mail()).ticket
    assert ticket.priority == "P3"
    assert ticket.first_response_due == ticket.created_at + timedelta(minutes=30)
    assert ticket.resolution_due == ticket.created_at + timedelta(minutes=240)


def test_waiting_on_the_customer_pauses_the_clock(acme):
    policy(acme, business_hours_only=False, P3=(30, 240))
    ticket = ingest(build_mail()).ticket
    due = ticket.resolution_due
    ticket = change_status(ticket, "waiting", INTAKE_ACTOR)
    assert ticket.sla_paused_at is not None
    # Pretend the wait began two hours ago, then resume.
    Ticket.objects.filter(pk=ticket.pk).update(sla_paused_at=timezone.now() - timedelta(hours=2))
    ticket = change_status(Ticket.objects.get(pk=ticket.pk), "open", INTAKE_ACTOR)
    assert ticket.sla_paused_at is None
    assert timedelta(hours=2) <= ticket.sla_paused_for < timedelta(hours=2, seconds=5)
    assert ticket.resolution_due - due == ticket.sla_paused_for
    assert ticket.events.filter(kind="sla_resumed").exists()


def test_a_pause_counts_only_business_time(acme):
    office_hours(acme)
    policy(acme, P3=(60, 480))
    ticket = ticket_at(acme, datetime(2026, 12, 4, 10, tzinfo=LONDON))
    sla.pause(ticket, datetime(2026, 12, 4, 16, tzinfo=LONDON).astimezone(UTC))
    waited = sla.resume(ticket, datetime(2026, 12, 7, 10, tzinfo=LONDON).astimezone(UTC))
    assert waited == timedelta(hours=2)  # Friday 16-17 and Monday 9-10, not the weekend


def test_time_spent_resolved_does_not_count_when_a_reply_reopens_it(acme):
    policy(acme, business_hours_only=False, P3=(30, 240))
    ticket = ingest(build_mail(message_id="<first@customer.example>")).ticket
    ticket = change_status(ticket, "resolved", INTAKE_ACTOR)
    assert (ticket.sla_paused_at is not None, ticket.sla_state) == (True, "")
    Ticket.objects.filter(pk=ticket.pk).update(sla_paused_at=timezone.now() - timedelta(days=3))
    ingest(build_mail(headers={"In-Reply-To": "<first@customer.example>"}))
    ticket.refresh_from_db()
    assert ticket.status == "open"
    assert ticket.resolution_due > timezone.now()  # three days resolved did not count
