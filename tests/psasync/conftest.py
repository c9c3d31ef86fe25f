"""The cast of the write-back tests: Acme on a simulated PSA, an agent mapped to a member,
and a ticket the PSA knows by the MSP's number."""

from datetime import timedelta

import httpx
import pytest
from django.contrib.auth import get_user_model
from django.utils import timezone

from psasync.connectors import connector_class
from psasync.connectors.base import ConnectionConfig, Connector, DictCache
from psasync.models import MemberMapping, PsaConnection
from psasync.simulator import Simulator
from tests.factories import make_agent
from tests.intake_helpers import ingest
from tests.mails import build_mail
from tickets.actions import record_time
from tickets.models import Team

PSA_NUMBER = {
    "connectwise": "48213",
    "autotask": "T20261201.0042",
    "halopsa": "48213",
    "syncro": "48213",
}


@pytest.fixture(autouse=True)
def _fast_passwords(settings):
    # The cast's users get passwords; hashing them the production way costs a second a test.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture
def sdm_client(client):
    """The test client, logged in as a superuser SDM."""
    user = get_user_model().objects.create_superuser("sdm", "sdm@desk.example", "pw-sdm-12345")
    client.force_login(user)
    return client


@pytest.fixture
def serve_sim():
    """serve_sim(kind, faults=..., limits=...) -> a Simulator served on a free port."""
    running = []

    def serve(kind: str, **kwargs) -> Simulator:
        sim = Simulator(kind, **kwargs)
        running.append(sim.serve())
        return sim

    yield serve
    for server in running:
        server.stop()


@pytest.fixture
def http():
    with httpx.Client() as client:
        yield client


def connector_for(
    kind: str,
    sim: Simulator,
    *,
    http: httpx.Client,
    cache: DictCache | None = None,
    timeout: float = 2,
    **credentials: str,
) -> Connector:
    """A connector talking to `sim`, with its credentials (some overridden)."""
    config = ConnectionConfig(
        kind, sim.base_url, {**sim.credentials(), **credentials}, timeout=timeout
    )
    return connector_class(kind)(config, http=http, cache=cache or DictCache())


@pytest.fixture
def desk(acme):
    """Acme's team and agent alex, with one ticket carrying the MSP's PSA number."""
    team = Team.objects.create(name="Night shift")
    team.clients.add(acme)
    agent = make_agent("alex", team)
    ticket = ingest(build_mail(subject="Printer jammed")).ticket
    return team, agent, ticket


def wire_to(sim: Simulator, client, desk) -> PsaConnection:
    """`client` connected to `sim`, the desk's ticket known there by the MSP's number and
    its agent mapped to a member."""
    kind = sim.kind
    _, agent, ticket = desk
    ticket.psa_ticket_number = PSA_NUMBER[kind]
    ticket.save(update_fields=["psa_ticket_number"])
    client.psa_kind = kind
    client.save(update_fields=["psa_kind"])
    connection = PsaConnection.objects.create(
        client=client,
        kind=kind,
        base_url=sim.base_url,
        credentials=sim.credentials(),
        timeout_seconds=2,
        role="29683102" if kind == "autotask" else "",
    )
    member = "29682" if kind == "autotask" else ("7" if kind != "connectwise" else "alex")
    MemberMapping.objects.create(connection=connection, agent=agent, member=member)
    return connection


@pytest.fixture
def connect(acme, desk, serve_sim):
    """connect(kind="connectwise", **sim kwargs) -> (sim, connection): Acme wired to a
    simulated PSA with the ticket known there and alex mapped to a member."""

    def wire(kind: str = "connectwise", **sim_kwargs):
        sim = serve_sim(kind, **sim_kwargs)
        sim.add_ticket(PSA_NUMBER[kind])
        return sim, wire_to(sim, acme, desk)

    return wire


@pytest.fixture
def log_time(desk):
    """log_time(minutes=30, summary=..., **kwargs) -> a TimeEntry on the desk's ticket."""
    _, agent, ticket = desk
    logged = []

    def log(minutes: float = 30, summary: str = "Cleared the print queue.", **kwargs):
        end = timezone.now() - timedelta(hours=len(logged) + 1)
        entry = record_time(ticket, agent, end - timedelta(minutes=minutes), end, summary, **kwargs)
        logged.append(entry)
        return entry

    return log
