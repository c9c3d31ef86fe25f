"""The simulators as `make run` serves them (`psa_simulator --kind all`): every kind on
one port under /<kind>, in demo mode, where a ticket number never seen is created on
first lookup. A time entry on any demo client must reach its PSA."""

import pytest

from psasync.models import WriteBack
from psasync.simulator import Simulator
from psasync.simulator.core import serve_many

from .conftest import PSA_NUMBER, wire_to

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
    wire_to(sim, acme, desk)
    assert not [t for t in sim.state.tickets.values() if t["number"] == PSA_NUMBER[kind]]

    with run_jobs():
        log_time(summary=f"Demo entry for {kind}.")

    writeback = WriteBack.objects.get()
    assert (writeback.state, writeback.last_error) == ("sent", "")
    mine = [e for e in sim.entries() if e["marker"] == writeback.marker]
    assert len(mine) == 1
