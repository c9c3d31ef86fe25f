"""The scheduled job flags at-risk and breached tickets and mails the SDMs once."""

from datetime import timedelta

import pytest
from django.contrib.auth.models import Group
from django.core import mail

from clients.models import SlaPolicy, SlaTarget
from tests.factories import UserFactory
from tests.intake_helpers import ingest
from tests.mails import build_mail
from tickets.actions import INTAKE_ACTOR, change_status
from tickets.roles import SDM_GROUP
from tickets.sla_watch import flag_sla_states

pytestmark = pytest.mark.django_db


@pytest.fixture
def sdm(db):
    user = UserFactory(username="sdm", email="sdm@desk.example")
    user.groups.add(Group.objects.get_or_create(name=SDM_GROUP)[0])
    return user


@pytest.fixture
def ticket(acme, sdm, django_capture_on_commit_callbacks):
    policy = SlaPolicy.objects.create(client=acme, business_hours_only=False, at_risk_percent=75)
    SlaTarget.objects.create(
        policy=policy, priority="P3", first_response_minutes=60, resolution_minutes=600
    )
    return ingest(build_mail(subject="Shared drive is slow")).ticket


def run(ticket, minutes, capture):
    with capture(execute=True):
        return flag_sla_states(now=ticket.created_at + timedelta(minutes=minutes))


def test_a_ticket_on_track_is_ok(ticket, django_capture_on_commit_callbacks):
    run(ticket, 10, django_capture_on_commit_callbacks)
    ticket.refresh_from_db()
    assert ticket.sla_state == "ok"
    assert mail.outbox == []


def test_past_the_at_risk_share_it_is_at_risk_and_the_sdm_is_mailed(
    ticket, django_capture_on_commit_callbacks
):
    assert run(ticket, 46, django_capture_on_commit_callbacks) == 1  # 46 of 60 minutes
    ticket.refresh_from_db()
    assert ticket.sla_state == "at_risk"
    [message] = mail.outbox
    assert message.to == ["sdm@desk.example"]
    assert f"[{ticket.reference}] SLA at risk" in message.subject
    assert ticket.events.filter(kind="sla_state_changed", new_value="at_risk").exists()


def test_past_the_deadline_it_is_breached_and_mailed_once(
    ticket, django_capture_on_commit_callbacks
):
    run(ticket, 61, django_capture_on_commit_callbacks)
    run(ticket, 62, django_capture_on_commit_callbacks)
    ticket.refresh_from_db()
    assert ticket.sla_state == "breached"
    assert [m.subject.split("]")[1].strip()[:12] for m in mail.outbox] == ["SLA BREACHED"]


def test_a_paused_ticket_is_not_flagged(ticket, django_capture_on_commit_callbacks):
    change_status(ticket, "waiting", INTAKE_ACTOR)
    run(ticket, 120, django_capture_on_commit_callbacks)
    ticket.refresh_from_db()
    assert ticket.sla_state == "ok"  # as it was when it started waiting
    assert mail.outbox == []


def test_a_new_p1_mails_the_sdm_at_once(acme, sdm, django_capture_on_commit_callbacks):
    from tests.factories import IntakeRuleFactory

    IntakeRuleFactory(client=acme, subject_pattern="server down", set_impact=1, set_urgency=1)
    with django_capture_on_commit_callbacks(execute=True):
        ticket = ingest(build_mail(subject="Server down at head office")).ticket
    assert ticket.priority == "P1"
    [message] = mail.outbox
    assert message.subject.startswith(f"[{ticket.reference}] New P1")


def test_a_run_reads_only_tickets_whose_check_has_come(ticket, django_capture_on_commit_callbacks):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    assert ticket.sla_check_at == ticket.created_at + timedelta(minutes=45)  # 75% of 60
    with CaptureQueriesContext(connection) as quiet:
        assert run(ticket, 30, django_capture_on_commit_callbacks) == 0
    assert len(quiet) == 1  # one indexed query, no ticket read
    run(ticket, 46, django_capture_on_commit_callbacks)
    ticket.refresh_from_db()
    assert ticket.sla_check_at == ticket.created_at + timedelta(minutes=60)  # the deadline next
