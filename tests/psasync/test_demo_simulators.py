"""The simulators as `make run` serves them (`psa_simulator --kind all`): every kind on
one port under /<kind>, in demo mode, where a ticket number never seen is created on
first lookup. A time entry on any demo client must reach its PSA."""

import pytest

from psasync.models import MemberMapping, PsaConnection, WriteBack
from psasync.simulator import Simulator
from psasync.simulator.core import serve_many

from .conftest import PSA_NUMBER

pytestmark = pytest.mark.django_db
KINDS = ["connectwise", "autotask", "halopsa", "syncro"]


@pytest.fixture(scope="module")
def simulators():
    sims = {kind: Simulator(kind, auto_tickets=True) for kind in KINDS}
    running = serve_many(sims)
    yield sims
    running.stop()


@pytest.mark.parametrize("kind", KINDS)
def test_time_reaches_each_kind_served_together_for_a_number_it_never_saw(
    kind, simulators, acme, desk, log_time, run_jobs
):
    sim = simulators[kind]
    _, agent, ticket = desk
    ticket.psa_ticket_number = PSA_NUMBER[kind]
    ticket.save(update_fields=["psa_ticket_number"])
    acme.psa_kind = kind
    acme.save(update_fields=["psa_kind"])
    connection = PsaConnection.objects.create(
        client=acme,
        kind=kind,
        base_url=sim.base_url,
        credentials=sim.credentials(),
        timeout_seconds=2,
        role="29683102" if kind == "autotask" else "",
    )
    member = "29682" if kind == "autotask" else ("7" if kind != "connectwise" else "alex")
    MemberMapping.objects.create(connection=connection, agent=agent, member=member)
    assert not [t for t in sim.state.tickets.values() if t["number"] == PSA_NUMBER[kind]]

    with run_jobs():
        log_time(summary=f"Demo entry for {kind}.")

    writeback = WriteBack.objects.get()
    assert (writeback.state, writeback.last_error) == ("sent", "")
    mine = [e for e in sim.entries() if e["marker"] == writeback.marker]
    assert len(mine) == 1
