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
