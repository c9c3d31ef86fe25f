"""PSA credentials at rest: sealed with Fernet, rotated with `rotate_psa_keys`, loud when
no key opens them, yet never in the way of the SDM replacing them."""

import json
from io import StringIO

import pytest
from cryptography.fernet import Fernet, InvalidToken
from django.core import serializers
from django.core.management import CommandError, call_command
from django.db import connection as db

from psasync.encryption import CredentialsUnreadable, Sealed
from psasync.models import PsaConnection, WriteBack

pytestmark = pytest.mark.django_db

SECRETS = {
    "company": "acmecorp",
    "public_key": "PUBLIC-Kx81",
    "private_key": "PRIVATE-Zq93-do-not-leak",
    "client_id": "6a1b9f2e-client",
}
CONNECTIONS = "/admin/psasync/psaconnection/"


def new_key() -> str:
    return Fernet.generate_key().decode()


def raw_column(connection: PsaConnection) -> str:
    """What the database itself holds, read past the model field."""
    with db.cursor() as cursor:
        cursor.execute(
            "SELECT credentials FROM psasync_psaconnection WHERE id = %s", [connection.pk]
        )
        return cursor.fetchone()[0]


def connect_acme(client, credentials: dict | None = None) -> PsaConnection:
    return PsaConnection.objects.create(
        client=client,
        kind="connectwise",
        base_url="https://api-na.myconnectwise.net/v4_6_release/apis/3.0",
        credentials=credentials or SECRETS,
    )


def reloaded(connection: PsaConnection) -> PsaConnection:
    return PsaConnection.objects.get(pk=connection.pk)


@pytest.fixture
def keys(settings):
    """Fresh keys for the test; `keys.use(*names)` sets FIELD_ENCRYPTION_KEYS in that order."""

    class Keys(dict):
        def use(self, *names: str) -> None:
            settings.FIELD_ENCRYPTION_KEYS = [self[name] for name in names]

    ring = Keys(old=new_key(), new=new_key(), stranger=new_key())
    ring.use("old")
    return ring


# --- at rest ---------------------------------------------------------------------------


def test_the_database_holds_only_a_fernet_token_with_no_secret_or_field_name(acme, keys):
    connection = connect_acme(acme)
    stored = raw_column(connection)
    for name, value in SECRETS.items():
        assert name not in stored
        assert value not in stored
    assert stored.startswith("gAAAA")  # Fernet's version byte, base64
    opened = Fernet(keys["old"]).decrypt(stored.encode())
    assert b"PRIVATE-Zq93-do-not-leak" in opened


def test_a_fixture_dump_carries_the_token_not_the_secrets(acme, keys):
    connection = connect_acme(acme)
    dumped = serializers.serialize("json", [reloaded(connection)])
    assert "PRIVATE-Zq93-do-not-leak" not in dumped
    assert raw_column(connection) in dumped


def test_reveal_gives_back_exactly_the_credentials_saved(acme, keys):
    connection = connect_acme(acme)
    assert reloaded(connection).credentials.reveal() == SECRETS


def test_credentials_read_back_sealed_as_soon_as_they_are_assigned(acme, keys):
    connection = connect_acme(acme)  # created from a plain dict, not reloaded
    assert isinstance(connection.credentials, Sealed)
    assert connection.credentials.reveal() == SECRETS
    connection.credentials = {"api_key": "T0k3n"}
    assert connection.credentials.reveal() == {"api_key": "T0k3n"}
    assert PsaConnection().credentials.reveal() == {}


def test_repr_and_str_never_show_a_secret(acme, keys):
    loaded = reloaded(connect_acme(acme)).credentials
    loaded.reveal()  # a revealed value is cached: still hidden from repr
    for sealed in (loaded, Sealed(value=SECRETS)):
        for shown in (repr(sealed), str(sealed), f"{sealed}", repr([sealed])):
            assert not any(value in shown for value in SECRETS.values())
            assert "private_key" not in shown


# --- rotation -------------------------------------------------------------------------


def test_data_sealed_under_the_old_key_opens_with_a_new_key_put_first(acme, keys):
    connection = connect_acme(acme)
    keys.use("new", "old")
    assert reloaded(connection).credentials.reveal() == SECRETS


def test_rotate_psa_keys_reseals_under_the_new_key_so_the_old_one_can_go(acme, keys):
    connection = connect_acme(acme)
    keys.use("new", "old")
    out = StringIO()
    call_command("rotate_psa_keys", stdout=out)
    assert "re-encrypted 1 connection(s)" in out.getvalue()
    stored = raw_column(connection)
    assert Fernet(keys["new"]).decrypt(stored.encode())
    with pytest.raises(InvalidToken):
        Fernet(keys["old"]).decrypt(stored.encode())
    keys.use("new")
    assert reloaded(connection).credentials.reveal() == SECRETS


def test_rotate_psa_keys_names_what_no_key_opens_and_still_reseals_the_rest(acme, globex, keys):
    lost = connect_acme(acme)
    keys.use("stranger")
    kept = connect_acme(globex)
    keys.use("new", "stranger")
    with pytest.raises(CommandError, match="acme") as refused:
        call_command("rotate_psa_keys", stdout=StringIO())
    assert "globex" not in str(refused.value)
    keys.use("new")
    assert reloaded(kept).credentials.reveal() == SECRETS
    with pytest.raises(CredentialsUnreadable):
        reloaded(lost).credentials.reveal()


# --- a value no key opens: loud where it is used, harmless where it is listed -----------


def test_credentials_no_key_opens_raise_on_reveal_without_the_secret(acme, keys):
    connection = connect_acme(acme)
    keys.use("new")
    loaded = reloaded(connection)  # loading itself does not raise: the SDM can still list it
    with pytest.raises(CredentialsUnreadable, match="FIELD_ENCRYPTION_KEYS") as unreadable:
        loaded.credentials.reveal()
    assert "PRIVATE-Zq93" not in str(unreadable.value)


def test_the_admin_lists_an_unreadable_connection_and_its_page_says_unreadable(
    acme, keys, sdm_client
):
    connection = connect_acme(acme)
    keys.use("new")
    listing = sdm_client.get(CONNECTIONS)
    assert listing.status_code == 200
    assert "Acme IT" in listing.content.decode()
    page = sdm_client.get(f"{CONNECTIONS}{connection.pk}/change/")
    assert page.status_code == 200
    assert "UNREADABLE" in page.content.decode()


def test_the_sdm_replaces_unreadable_credentials_on_the_change_page(acme, keys, sdm_client):
    connection = connect_acme(acme)
    keys.use("new")
    fresh = {**SECRETS, "private_key": "PRIVATE-new-one"}
    response = sdm_client.post(
        f"{CONNECTIONS}{connection.pk}/change/",
        {
            "client": acme.pk,
            "kind": "connectwise",
            "base_url": connection.base_url,
            "enabled": "on",
            "billable": "entry",
            "timeout_seconds": "20",
            "new_credentials": json.dumps(fresh),
            "members-TOTAL_FORMS": "0",
            "members-INITIAL_FORMS": "0",
        },
    )
    assert response.status_code == 302, response.content.decode()[:2000]
    assert reloaded(connection).credentials.reveal() == fresh


def test_an_unreadable_connection_can_still_be_paused_without_new_credentials(
    acme, keys, sdm_client
):
    connection = connect_acme(acme)
    sealed = raw_column(connection)
    keys.use("new")
    response = sdm_client.post(
        f"{CONNECTIONS}{connection.pk}/change/",
        {
            "client": acme.pk,
            "kind": "connectwise",
            "base_url": connection.base_url,
            "billable": "entry",
            "timeout_seconds": "20",
            "new_credentials": "",
            "members-TOTAL_FORMS": "0",
            "members-INITIAL_FORMS": "0",
        },
    )
    assert response.status_code == 302
    assert reloaded(connection).enabled is False
    assert raw_column(connection) == sealed  # kept as it was, for the key to come back


def test_a_writeback_over_unreadable_credentials_fails_with_a_clear_message(
    connect, log_time, run_jobs, settings
):
    sim, connection = connect("connectwise")
    settings.FIELD_ENCRYPTION_KEYS = [new_key()]
    with run_jobs():
        log_time()
    writeback = WriteBack.objects.get()
    assert writeback.state == "failed"
    assert "cannot be decrypted with FIELD_ENCRYPTION_KEYS" in writeback.last_error
    assert writeback.attempt_log.get().outcome == "failed"
    assert "cannot be decrypted" in reloaded(connection).last_error
    assert sim.requests == []


def test_test_connection_over_unreadable_credentials_reports_it(connect, settings, sdm_client):
    _, connection = connect("connectwise")
    settings.FIELD_ENCRYPTION_KEYS = [new_key()]
    response = sdm_client.post(
        CONNECTIONS, {"action": "test_connection", "_selected_action": [connection.pk]}, follow=True
    )
    assert response.status_code == 200
    assert "cannot be decrypted with FIELD_ENCRYPTION_KEYS" in response.content.decode()
