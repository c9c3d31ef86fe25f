import pytest
from django.contrib.auth.models import Permission
from django.core.exceptions import PermissionDenied

from clients.models import Level
from tests.factories import IntakeRuleFactory, UserFactory
from tests.intake_helpers import ingest
from tests.mails import build_mail
from tickets.actions import Actor, override_priority
from tickets.models import PriorityMatrixCell, priority_for
from tickets.models.priority import DEFAULT_MATRIX

pytestmark = pytest.mark.django_db


def test_the_matrix_starts_as_the_default_nine_cells():
    cells = {(c.impact, c.urgency): c.priority for c in PriorityMatrixCell.objects.all()}
    assert cells == {k: str(v) for k, v in DEFAULT_MATRIX.items()}


@pytest.mark.parametrize(
    ("impact", "urgency", "priority"),
    [(1, 1, "P1"), (1, 2, "P2"), (2, 1, "P2"), (2, 2, "P3"), (3, 1, "P3"), (3, 3, "P4")],
)
def test_impact_and_urgency_give_the_priority(impact, urgency, priority):
    assert priority_for(impact, urgency) == priority


def test_an_sdm_edit_of_the_matrix_applies_to_new_tickets(acme):
    PriorityMatrixCell.objects.filter(impact=Level.MEDIUM, urgency=Level.MEDIUM).update(
        priority="P2"
    )
    assert ingest(build_mail()).ticket.priority == "P2"


def test_intake_rules_drive_the_priority_through_the_matrix(acme):
    IntakeRuleFactory(client=acme, subject_pattern="backup failed", set_impact=1, set_urgency=1)
    assert ingest(build_mail(subject="Backup failed on srv1")).ticket.priority == "P1"
    assert ingest(build_mail(subject="Printer jam")).ticket.priority == "P3"


def sdm():
    user = UserFactory(username="sdm")
    user.user_permissions.add(Permission.objects.get(codename="override_priority"))
    return user


def test_an_sdm_overrides_the_priority_with_a_reason_and_it_is_audited(acme):
    ticket = ingest(build_mail()).ticket
    ticket = override_priority(ticket, "P1", "CEO's laptop", Actor.of(sdm()))
    assert (ticket.priority, ticket.priority_overridden) == ("P1", True)
    event = ticket.events.get(kind="priority_overridden")
    assert (event.actor_label, event.note) == ("sdm", "CEO's laptop")
    assert (event.old_value["priority"], event.new_value["priority"]) == ("P3", "P1")


def test_an_agent_cannot_override_a_priority(acme):
    ticket = ingest(build_mail()).ticket
    with pytest.raises(PermissionDenied):
        override_priority(ticket, "P1", "I want it", Actor.of(UserFactory(username="agent")))
    ticket.refresh_from_db()
    assert ticket.priority == "P3"


@pytest.mark.parametrize(("priority", "reason"), [("P1", "  "), ("P9", "why not")])
def test_an_override_needs_a_real_priority_and_a_reason(acme, priority, reason):
    ticket = ingest(build_mail()).ticket
    with pytest.raises(ValueError):
        override_priority(ticket, priority, reason, Actor.of(sdm()))
