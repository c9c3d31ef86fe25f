"""Take next, SDM assignment and the automatic strategies."""

from datetime import timedelta

import pytest
from django.contrib.auth.models import Permission
from django.core.exceptions import PermissionDenied
from django.utils import timezone

from tests.factories import ClientFactory, UserFactory, make_agent
from tests.intake_helpers import ingest
from tests.mails import build_mail
from tickets.actions import Actor, CapReached, assign_ticket, auto_assign, claim_next_ticket
from tickets.models import Agent, Skill, Team, Ticket

pytestmark = pytest.mark.django_db


@pytest.fixture
def new_ticket(run_jobs):
    """Mail a ticket in as intake does, jobs (automatic assignment) included."""

    def make(subject="Printer broken", **fields) -> Ticket:
        with run_jobs():
            ticket = ingest(build_mail(subject=subject)).ticket
        if fields:
            Ticket.objects.filter(pk=ticket.pk).update(**fields)
        ticket.refresh_from_db()
        return ticket

    return make


def test_take_next_gives_the_highest_priority_first(team, new_ticket):
    agent = make_agent("alex", team)
    new_ticket("low", priority="P4")
    urgent = new_ticket("urgent", priority="P1")
    new_ticket("medium", priority="P3")
    assert claim_next_ticket(agent) == urgent


def test_within_a_priority_the_nearest_deadline_then_the_oldest_comes_first(team, new_ticket):
    agent = make_agent("alex", team)
    now = timezone.now()
    new_ticket("later deadline", priority="P2", sla_next_due=now + timedelta(hours=5))
    first = new_ticket("sooner deadline", priority="P2", sla_next_due=now + timedelta(hours=1))
    assert claim_next_ticket(agent) == first
    older = new_ticket("no deadline, older", priority="P3", created_at=now - timedelta(days=1))
    new_ticket("no deadline, newer", priority="P3")
    second = claim_next_ticket(agent)
    assert second.subject == "later deadline"
    assert claim_next_ticket(agent) == older


def test_a_claim_assigns_opens_and_audits(team, new_ticket):
    agent = make_agent("alex", team)
    ticket = new_ticket()
    claimed = claim_next_ticket(agent)
    claimed.refresh_from_db()
    assert (claimed, claimed.assignee, claimed.status) == (ticket, agent, "open")
    event = claimed.events.get(kind="claimed")
    assert (event.actor_label, event.new_value["agent"]) == ("alex", agent.pk)


def test_take_next_offers_only_the_agents_teams_clients(team, globex):
    agent = make_agent("alex", team)
    ingest(build_mail(to="globex@in.test"))
    assert claim_next_ticket(agent) is None


def test_a_ticket_needing_a_skill_goes_only_to_an_agent_with_it(team, acme, new_ticket):
    Skill.objects.create(name="Backup")
    from tests.factories import IntakeRuleFactory

    IntakeRuleFactory(client=acme, subject_pattern="veeam", set_category="Backup")
    ticket = new_ticket("Veeam job failed")
    assert ticket.required_skill.name == "Backup"
    assert claim_next_ticket(make_agent("novice", team)) is None
    assert claim_next_ticket(make_agent("expert", team, skills=["Backup"])) == ticket


def test_an_agent_at_its_cap_cannot_take_more(team, new_ticket):
    agent = make_agent("alex", team, cap=1)
    new_ticket("one")
    new_ticket("two")
    claim_next_ticket(agent)
    with pytest.raises(CapReached):
        claim_next_ticket(agent)


def sdm_actor():
    user = UserFactory(username="sdm")
    user.user_permissions.add(Permission.objects.get(codename="assign_ticket"))
    return Actor.of(user)


def test_the_sdm_assigns_and_hands_over_with_an_audit_trail(team, new_ticket):
    alex, sam = make_agent("alex", team), make_agent("sam", team)
    ticket = new_ticket()
    assign_ticket(ticket, alex, sdm_actor())
    assign_ticket(ticket, sam, sdm_actor())
    ticket.refresh_from_db()
    assert ticket.assignee == sam
    kinds = list(
        ticket.events.filter(kind__in=["assigned", "handed_over"]).values_list("kind", flat=True)
    )
    assert kinds == ["assigned", "handed_over"]


def test_an_agent_cannot_assign(team, new_ticket):
    alex = make_agent("alex", team)
    with pytest.raises(PermissionDenied):
        assign_ticket(new_ticket(), alex, Actor.of(alex.user))


def test_a_ticket_cannot_go_to_an_agent_outside_its_clients_teams(team, globex, new_ticket):
    outsider = make_agent("sam", Team.objects.create(name="Globex team"))
    with pytest.raises(ValueError, match="does not serve"):
        assign_ticket(new_ticket(), outsider, sdm_actor())


def test_round_robin_takes_turns_among_available_agents(team, new_ticket):
    team.assignment = "round_robin"
    team.save()
    agents = [make_agent(n, team) for n in ("alex", "sam", "kim")]
    make_agent("away", team, presence="away")
    assignees = [new_ticket(f"t{n}").assignee for n in range(6)]
    assert assignees == agents + agents


def test_least_loaded_picks_the_agent_holding_fewest(team, new_ticket):
    team.assignment = "least_loaded"
    team.save()
    busy, free = make_agent("busy", team, cap=10), make_agent("free", team, cap=10)
    team.assignment = "manual"
    team.save()
    for n in range(2):
        assign_ticket(new_ticket(f"held {n}"), busy, sdm_actor())
    # Round robin would now pick `busy` (its last assignment is the older one).
    Agent.objects.filter(pk=busy.pk).update(last_assigned_at=timezone.now() - timedelta(hours=1))
    Agent.objects.filter(pk=free.pk).update(last_assigned_at=timezone.now())
    team.assignment = "least_loaded"
    team.save()
    assert new_ticket("next").assignee == free


def test_automatic_assignment_respects_skills_and_caps(team, acme, new_ticket):
    team.assignment = "round_robin"
    team.save()
    Skill.objects.create(name="Firewall")
    from tests.factories import IntakeRuleFactory

    IntakeRuleFactory(client=acme, subject_pattern="firewall", set_category="Firewall")
    make_agent("novice", team)
    expert = make_agent("expert", team, skills=["Firewall"], cap=1)
    assert new_ticket("Firewall rule needed").assignee == expert
    assert new_ticket("Firewall again").assignee is None  # the expert is at its cap


def test_manual_teams_leave_tickets_in_the_queue(team, new_ticket):
    make_agent("alex", team)
    ticket = new_ticket()
    assert auto_assign(ticket.pk) is None
    assert Ticket.objects.get(pk=ticket.pk).assignee is None


def test_a_client_without_a_team_is_left_for_the_sdm(db):
    ClientFactory(slug="lonely", address="lonely@in.test")
    ticket = ingest(build_mail(to="lonely@in.test")).ticket
    assert ticket.assignee is None
