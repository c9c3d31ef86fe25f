from datetime import UTC, datetime, time

import pytest
from django.core.exceptions import ValidationError

from tests.factories import IntakeRuleFactory
from tests.intake_helpers import ingest
from tests.mails import build_mail
from tickets.intake.rules import in_window
from tickets.models import InboundMail

pytestmark = pytest.mark.django_db


def test_a_rule_sets_impact_urgency_and_category(acme):
    IntakeRuleFactory(
        client=acme,
        subject_pattern="backup.*failed",
        set_impact=1,
        set_urgency=1,
        set_category="Backup",
    )
    ticket = ingest(build_mail(subject="Nightly backup FAILED on srv1")).ticket
    assert (ticket.impact, ticket.urgency, ticket.category) == (1, 1, "Backup")


def test_a_rule_that_does_not_match_changes_nothing(acme):
    IntakeRuleFactory(client=acme, subject_pattern="backup", set_impact=1)
    assert ingest(build_mail(subject="Printer")).ticket.impact == 2


def test_a_suppress_rule_records_the_mail_without_a_ticket(acme):
    IntakeRuleFactory(client=acme, name="newsletters", sender_pattern="newsletter@", suppress=True)
    result = ingest(build_mail(sender="News <newsletter@vendor.example>"))
    assert result.outcome == "suppressed"
    assert "newsletters" in result.reason
    assert InboundMail.objects.get().outcome == "suppressed"


def test_rules_match_on_body_and_headers(acme):
    IntakeRuleFactory(client=acme, body_pattern="patient records", set_urgency=1)
    IntakeRuleFactory(client=acme, header_name="X-Priority", header_pattern="^1", set_impact=1)
    ticket = ingest(
        build_mail(body="Cannot open patient records", headers={"X-Priority": "1 (Highest)"})
    ).ticket
    assert (ticket.impact, ticket.urgency) == (1, 1)


def test_rules_run_in_order_and_later_ones_win(acme):
    IntakeRuleFactory(client=acme, position=1, set_category="first")
    IntakeRuleFactory(client=acme, position=2, set_category="second")
    assert ingest(build_mail()).ticket.category == "second"


def test_stop_processing_skips_later_rules(acme):
    IntakeRuleFactory(client=acme, position=1, set_category="first", stop_processing=True)
    IntakeRuleFactory(client=acme, position=2, set_category="second")
    assert ingest(build_mail()).ticket.category == "first"


def test_disabled_rules_do_not_run(acme):
    IntakeRuleFactory(client=acme, enabled=False, suppress=True)
    assert ingest(build_mail()).outcome == "created"


def test_another_clients_rules_do_not_apply(acme, globex):
    IntakeRuleFactory(client=globex, suppress=True)
    assert ingest(build_mail()).outcome == "created"


@pytest.mark.parametrize(
    ("received_utc", "matches"),
    [
        (datetime(2026, 12, 1, 22, 0, tzinfo=UTC), False),  # 17:00 in New York: outside
        (datetime(2026, 12, 2, 9, 0, tzinfo=UTC), True),  # 04:00 in New York: inside
    ],
)
def test_a_time_window_is_read_in_the_clients_time_zone(acme, received_utc, matches):
    from tickets.intake.pipeline import process_inbound
    from tickets.intake.store import store_raw_mail

    acme.timezone = "America/New_York"
    acme.save()
    IntakeRuleFactory(client=acme, window_start=time(20, 0), window_end=time(7, 0), set_impact=1)
    inbound = store_raw_mail(build_mail(), provider="test", envelope_recipient="acme@in.test")
    InboundMail.objects.filter(pk=inbound.pk).update(received_at=received_utc)
    inbound.refresh_from_db()
    assert (process_inbound(inbound).ticket.impact == 1) is matches


@pytest.mark.parametrize(
    ("local", "expected"),
    [
        (datetime(2026, 12, 4, 22, 0), True),  # Friday 22:00, window opened Friday
        (datetime(2026, 12, 5, 2, 0), True),  # Saturday 02:00, window opened Friday
        (datetime(2026, 12, 5, 12, 0), False),  # Saturday noon
        (datetime(2026, 12, 3, 23, 0), False),  # Thursday night: not a Friday window
    ],
)
def test_a_window_crossing_midnight_belongs_to_the_day_it_opened(local, expected):
    assert in_window(time(22, 0), time(6, 0), "4", local.replace(tzinfo=UTC)) is expected


def test_a_plain_window_excludes_its_end():
    assert in_window(time(9), time(17), "", datetime(2026, 12, 1, 16, 59, tzinfo=UTC))
    assert not in_window(time(9), time(17), "", datetime(2026, 12, 1, 17, 0, tzinfo=UTC))


def test_rule_validation_names_the_problem(acme):
    rule = IntakeRuleFactory.build(client=acme, header_name="X-Priority")
    with pytest.raises(ValidationError, match="header"):
        rule.full_clean()
    rule = IntakeRuleFactory.build(client=acme, subject_pattern="([unclosed")
    with pytest.raises(ValidationError, match="regular expression"):
        rule.full_clean()


def test_a_rule_whose_pattern_runs_too_long_is_skipped_and_named(acme, monkeypatch):
    import regex

    def too_slow(*args, **kwargs):
        raise TimeoutError("regex timed out")

    IntakeRuleFactory(client=acme, name="Escalate everything", body_pattern="x", set_impact=1)
    monkeypatch.setattr(regex, "search", too_slow)
    result = ingest(build_mail())
    assert (result.outcome, result.ticket.impact) == ("created", 2)
    assert "ran too long: Escalate everything" in result.reason
