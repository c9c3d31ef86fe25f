"""The cast of the distribution tests: a team serving Acme, an agent in it logged in."""

import pytest

from tests.factories import make_agent
from tickets.models import Team


@pytest.fixture
def team(acme):
    team = Team.objects.create(name="Night shift")
    team.clients.add(acme)
    return team


@pytest.fixture
def alex(team, client):
    """An agent of the team, logged in with the test client."""
    agent = make_agent("alex", team)
    client.force_login(agent.user)
    return agent
