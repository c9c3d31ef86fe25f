"""The SDM assigns and overrides priorities from the ticket list; agents cannot."""

import pytest
from django.contrib.auth.models import Group, Permission

from tests.factories import UserFactory, make_agent
from tests.intake_helpers import ingest
from tests.mails import build_mail
from tickets.models import Team

pytestmark = pytest.mark.django_db
URL = "/admin/tickets/ticket/"


@pytest.fixture
def sdm(client, db):
    user = UserFactory(username="sdm", is_staff=True)
    group = Group.objects.create(name="SDM")
    group.permissions.add(
        *Permission.objects.filter(
            codename__in=["view_ticket", "assign_ticket", "override_priority"]
        )
    )
    user.groups.add(group)
    client.force_login(user)
    return user


@pytest.fixture
def team(acme):
    team = Team.objects.create(name="Night shift")
    team.clients.add(acme)
    return team


def test_the_sdm_assigns_selected_tickets_through_a_form(sdm, client, team):
    agent = make_agent("alex", team)
    tickets = [ingest(build_mail(subject=f"t{n}")).ticket for n in range(2)]
    ids = [t.pk for t in tickets]
    form = client.post(URL, {"action": "assign", "_selected_action": ids})
    assert form.status_code == 200 and "Assign to an agent" in form.content.decode()
    done = client.post(
        URL,
        {"action": "assign", "_selected_action": ids, "apply": "1", "agent": agent.pk},
        follow=True,
    )
    assert "Assign to an agent: 2 done." in done.content.decode()
    for ticket in tickets:
        ticket.refresh_from_db()
        assert ticket.assignee == agent
        assert ticket.events.get(kind="assigned").actor_label == "sdm"


def test_the_sdm_overrides_a_priority_with_a_reason(sdm, client, team):
    ticket = ingest(build_mail()).ticket
    data = {"action": "override", "_selected_action": [ticket.pk], "apply": "1",
            "priority": "P1", "reason": "The CEO's laptop"}  # fmt: skip
    client.post(URL, data)
    ticket.refresh_from_db()
    assert (ticket.priority, ticket.priority_overridden) == ("P1", True)
    assert ticket.events.get(kind="priority_overridden").note == "The CEO's laptop"


def test_a_staff_user_without_the_permissions_sees_no_such_actions(client, acme):
    user = UserFactory(username="viewer", is_staff=True)
    user.user_permissions.add(Permission.objects.get(codename="view_ticket"))
    client.force_login(user)
    ingest(build_mail())
    page = client.get(URL).content.decode()
    assert "Assign to an agent" not in page and "Override the priority" not in page
