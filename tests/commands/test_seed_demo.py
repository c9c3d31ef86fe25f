from io import StringIO

import pytest
from django.contrib.auth import authenticate
from django.core.management import call_command

from clients.models import Client, DedicatedAddress, IntakeRule, PortalMembership
from helpdesk.management.commands.seed_demo import DEMO_USERS

pytestmark = pytest.mark.django_db


def seed() -> str:
    out = StringIO()
    call_command("seed_demo", stdout=out)
    return out.getvalue()


def counts() -> tuple:
    return tuple(
        m.objects.count() for m in (Client, DedicatedAddress, IntakeRule, PortalMembership)
    )


def test_it_is_idempotent():
    seed()
    first = counts()
    seed()
    assert counts() == first
    assert first[0] == 3


def test_it_prints_logins_that_work():
    output = seed()
    for username, password, _, _ in DEMO_USERS:
        assert username in output and password in output
        assert authenticate(username=username, password=password) is not None


def test_the_sdm_can_use_the_admin_and_agents_cannot(client):
    seed()
    client.login(username="sdm", password="demo-sdm-2026")
    assert client.get("/admin/tickets/inboundmail/").status_code == 200
    client.logout()
    client.login(username="agent.alex", password="demo-agent-2026")
    assert client.get("/admin/tickets/inboundmail/").status_code == 302  # to the login page


def test_it_keeps_a_changed_password():
    seed()
    from django.contrib.auth import get_user_model

    user = get_user_model().objects.get(username="sdm")
    user.set_password("changed-by-the-sdm-9")
    user.save()
    seed()
    assert authenticate(username="sdm", password="changed-by-the-sdm-9") is not None


def test_the_demo_connections_follow_the_simulator_to_another_port_but_an_sdms_stay():
    from psasync.models import PsaConnection

    call_command("seed_demo", "--psa-url", "http://127.0.0.1:8765", stdout=StringIO())
    connections = {c.client.slug: c for c in PsaConnection.objects.select_related("client")}
    assert len(connections) >= 2
    mine, *demo = sorted(connections)
    PsaConnection.objects.filter(pk=connections[mine].pk).update(
        base_url="https://psa.msp.example/v4_6_release/apis/3.0"
    )

    call_command("seed_demo", "--psa-url", "http://127.0.0.1:9999", stdout=StringIO())

    urls = dict(PsaConnection.objects.values_list("client__slug", "base_url"))
    assert urls[mine] == "https://psa.msp.example/v4_6_release/apis/3.0"
    for slug in demo:
        assert urls[slug].startswith("http://127.0.0.1:9999/"), urls[slug]
