"""Sixteen agents taking next at once, on real PostgreSQL connections."""

import threading
from concurrent.futures import ThreadPoolExecutor

import pytest
from django.db import connection, connections

from tests.factories import ClientFactory, make_agent
from tickets.actions import claim_next_ticket
from tickets.models import Team, Ticket, TicketEvent

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(
        connection.vendor != "postgresql", reason="needs PostgreSQL (CI sets DATABASE_URL)"
    ),
]
CLAIMERS = 16
TICKETS = 120


def test_sixteen_concurrent_claimers_never_share_a_ticket_and_claim_every_one():
    client = ClientFactory(slug="acme", address="acme@in.test")
    team = Team.objects.create(name="Everyone")
    team.clients.add(client)
    Ticket.objects.bulk_create(
        Ticket(client=client, subject=f"ticket {n}", priority=f"P{n % 4 + 1}")
        for n in range(TICKETS)
    )
    agents = [make_agent(f"agent{n}", team, cap=TICKETS) for n in range(CLAIMERS)]
    barrier = threading.Barrier(CLAIMERS)

    def take_all(agent) -> list[int]:
        mine = []
        try:
            barrier.wait()
            while (ticket := claim_next_ticket(agent)) is not None:
                mine.append(ticket.pk)
        finally:
            connections.close_all()
        return mine

    with ThreadPoolExecutor(max_workers=CLAIMERS) as pool:
        claimed = [pk for mine in pool.map(take_all, agents) for pk in mine]

    assert len(claimed) == len(set(claimed)) == TICKETS  # each once, none twice
    assert not Ticket.objects.filter(assignee__isnull=True).exists()
    assert TicketEvent.objects.filter(kind="claimed").count() == TICKETS
    per_agent = [Ticket.objects.filter(assignee=a).count() for a in agents]
    assert sum(per_agent) == TICKETS and max(per_agent) < TICKETS  # the work was shared
