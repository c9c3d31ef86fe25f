from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from clients.models import Client

pytestmark = pytest.mark.django_db


def add_client(*args: str) -> str:
    out = StringIO()
    call_command("add_client", *args, stdout=out)
    return out.getvalue()


def test_it_creates_a_client_with_its_addresses():
    add_client(
        "acme", "--name", "Acme IT", "--address", "Acme@In.Test",
        "--address", "acme-alerts@in.test",
        "--timezone", "Europe/London", "--psa", "connectwise",
    )  # fmt: skip
    client = Client.objects.get(slug="acme")
    assert (client.name, client.timezone, client.psa_kind) == (
        "Acme IT",
        "Europe/London",
        "connectwise",
    )
    assert sorted(client.addresses.values_list("address", flat=True)) == [
        "acme-alerts@in.test",
        "acme@in.test",
    ]


def test_running_it_again_keeps_settings_it_is_not_given():
    add_client(
        "acme",
        "--name",
        "Acme",
        "--address",
        "a@in.test",
        "--timezone",
        "Europe/Berlin",
        "--psa",
        "halopsa",
    )
    output = add_client("acme", "--name", "Acme IT", "--address", "b@in.test")
    client = Client.objects.get()
    assert (client.name, client.timezone, client.psa_kind) == (
        "Acme IT",
        "Europe/Berlin",
        "halopsa",
    )
    assert "a@in.test, b@in.test" in output


def test_running_it_again_updates_without_duplicating():
    add_client("acme", "--name", "Acme", "--address", "acme@in.test")
    add_client("acme", "--name", "Acme IT", "--address", "acme@in.test")
    assert Client.objects.get().name == "Acme IT"
    assert Client.objects.get().addresses.count() == 1


def test_an_address_of_another_client_is_refused():
    add_client("acme", "--name", "Acme", "--address", "desk@in.test")
    with pytest.raises(CommandError, match="already belongs to client acme"):
        add_client("globex", "--name", "Globex", "--address", "DESK@in.test")
    assert not Client.objects.filter(slug="globex").exists()  # nothing half-made


def test_a_bad_time_zone_is_a_clear_error():
    with pytest.raises(CommandError, match="IANA"):
        add_client("acme", "--name", "Acme", "--address", "a@in.test", "--timezone", "Mars/Olympus")


def test_a_bad_address_is_a_clear_error():
    with pytest.raises(CommandError, match="valid email"):
        add_client("acme", "--name", "Acme", "--address", "not-an-address")
