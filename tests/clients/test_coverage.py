"""Coverage: when we are responsible for a client, and rules that depend on it."""

from datetime import UTC, datetime, time

import pytest

from clients.models import CoverageWindow, is_covered
from tests.factories import IntakeRuleFactory
from tests.mails import build_mail
from tickets.intake.pipeline import process_inbound
from tickets.intake.store import store_raw_mail
from tickets.models import InboundMail

pytestmark = pytest.mark.django_db


@pytest.fixture
def after_hours(acme):
    """Weeknights 18:00-08:00 London time."""
    for weekday in range(5):
        CoverageWindow.objects.create(
            client=acme, kind="after_hours", weekday=weekday, starts=time(18), ends=time(8)
        )
    return acme


def at(*args) -> datetime:
    return datetime(*args, tzinfo=UTC)


def test_a_client_without_windows_is_always_covered(acme):
    assert is_covered(acme, at(2026, 12, 2, 12))


def test_after_hours_coverage_follows_the_clients_clock(after_hours):
    assert not is_covered(after_hours, at(2026, 12, 2, 12))  # Wednesday noon
    assert is_covered(after_hours, at(2026, 12, 2, 22))  # Wednesday night
    assert is_covered(after_hours, at(2026, 12, 3, 6))  # into Thursday morning
    assert not is_covered(after_hours, at(2026, 12, 5, 12))  # Saturday: no window


def test_a_24x7_window_covers_everything(acme):
    CoverageWindow.objects.create(client=acme, kind="always")
    assert is_covered(acme, at(2026, 12, 5, 12))


def ingest_at(received: datetime, **mail):
    inbound = store_raw_mail(build_mail(**mail), provider="test", envelope_recipient="acme@in.test")
    InboundMail.objects.filter(pk=inbound.pk).update(received_at=received)
    inbound.refresh_from_db()
    return process_inbound(inbound)


def test_mail_outside_coverage_still_becomes_a_ticket_marked_as_such(after_hours):
    result = ingest_at(at(2026, 12, 2, 12))
    assert result.outcome == "created"
    assert result.ticket.outside_coverage
    assert "outside our coverage" in result.reason
    assert not ingest_at(at(2026, 12, 2, 22), subject="night").ticket.outside_coverage


def test_rules_can_match_inside_or_outside_coverage(after_hours):
    IntakeRuleFactory(client=after_hours, coverage="outside", set_category="Daytime, MSP's own")
    IntakeRuleFactory(client=after_hours, coverage="inside", set_urgency=1)
    day = ingest_at(at(2026, 12, 2, 12)).ticket
    night = ingest_at(at(2026, 12, 2, 22), subject="night").ticket
    assert (day.category, day.urgency) == ("Daytime, MSP's own", 2)
    assert (night.category, night.urgency) == ("", 1)
