"""The HaloPSA connector against the HaloPSA simulator, served in-process."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from decimal import Decimal
from functools import partial
from urllib.parse import parse_qs

import httpx
import pytest

from psasync.connectors.base import (
    ConnectionConfig,
    DictCache,
    NotSupported,
    PermanentError,
    RetryableError,
    TicketNotFound,
    TimePayload,
)
from psasync.connectors.halopsa import HaloPsaConnector, ticket_id_from_number
from psasync.simulator import Faults, Limits, Simulator
from tests.psasync.conftest import connector_for

MARKER = "[hd:6f1c2b9e-0d4a-4c1e-9a57-3b8e2f1d0c44]"
SUMMARY = "Restarted the print spooler on FS01; the queue prints again."


def payload(**changes: object) -> TimePayload:
    fields = {
        "marker": MARKER,
        "ticket_number": "48213",
        "member": "27",
        "started_at": datetime(2026, 3, 2, 9, 0, tzinfo=UTC),
        "ended_at": datetime(2026, 3, 2, 9, 45, tzinfo=UTC),
        "hours": Decimal("0.75"),
        "summary": SUMMARY,
        "billable": True,
    }
    return TimePayload(**{**fields, **changes})


@pytest.fixture
def serve(serve_sim) -> Callable[..., Simulator]:
    """Start a simulator (limits, faults) knowing the ticket; it stops after the test."""

    def start(**options: object) -> Simulator:
        sim = serve_sim("halopsa", **options)
        sim.add_ticket("48213", summary="Printer offline")
        return sim

    return start


@pytest.fixture
def sim(serve: Callable[..., Simulator]) -> Simulator:
    return serve()


@pytest.fixture
def connect(http: httpx.Client) -> Callable[..., HaloPsaConnector]:
    return partial(connector_for, "halopsa", http=http)


def token_requests(sim: Simulator) -> list:
    return [r for r in sim.requests if r.path == "/auth/token"]


def api_requests(sim: Simulator, method: str, path: str) -> list:
    return [r for r in sim.requests if r.method == method and r.path == path]


# --- authentication -------------------------------------------------------------------


def test_it_asks_for_a_token_with_the_client_credentials_form_and_the_tenant(sim, connect):
    connect(sim).find_ticket("48213")

    [grant] = token_requests(sim)
    assert grant.method == "POST"
    assert grant.headers["Content-Type"] == "application/x-www-form-urlencoded"
    assert parse_qs(grant.query) == {"tenant": ["simmsp"]}
    assert parse_qs(grant.body.decode()) == {
        "grant_type": ["client_credentials"],
        "client_id": [sim.credentials()["client_id"]],
        "client_secret": [sim.credentials()["client_secret"]],
        "scope": ["all"],
    }


def test_it_leaves_the_tenant_out_when_the_credentials_have_none(sim, connect):
    connect(sim, tenant="").find_ticket("48213")

    assert token_requests(sim)[0].query == ""


def test_it_sends_the_token_as_a_bearer_on_api_calls(sim, connect):
    connect(sim).find_ticket("48213")

    [lookup] = api_requests(sim, "GET", "/api/Tickets/48213")
    assert lookup.headers["Authorization"].startswith("Bearer ")
    assert len(lookup.headers["Authorization"]) > len("Bearer ") + 10


def test_it_reuses_the_cached_token_across_calls_and_connectors(sim, connect):
    cache = DictCache()
    connect(sim, cache=cache).find_ticket("48213")
    connect(sim, cache=cache).add_time("48213", payload())

    assert len(token_requests(sim)) == 1
    [key] = cache.values
    assert key == f"halopsa:token:{sim.base_url}:{sim.credentials()['client_id']}"


def test_it_asks_for_a_new_token_shortly_before_the_old_one_expires(sim, connect):
    clock = [0.0]
    cache = DictCache(now=lambda: clock[0])
    connector = connect(sim, cache=cache)
    connector.find_ticket("48213")
    clock[0] = sim.sim.token_lifetime - HaloPsaConnector.token_margin - 1
    connector.find_ticket("48213")
    assert len(token_requests(sim)) == 1

    clock[0] = sim.sim.token_lifetime - HaloPsaConnector.token_margin + 1
    connector.find_ticket("48213")

    assert len(token_requests(sim)) == 2


def test_a_401_drops_the_cached_token_and_retries_once_with_a_new_one(sim, connect):
    connector = connect(sim)
    connector.find_ticket("48213")
    sim.sim.revoke_tokens()

    entry = connector.add_time("48213", payload())

    assert len(token_requests(sim)) == 2
    refused, accepted = api_requests(sim, "POST", "/api/Actions")
    assert refused.headers["Authorization"] != accepted.headers["Authorization"]
    assert [e["id"] for e in sim.entries()] == [int(entry.id)]


def test_a_second_401_in_a_row_is_a_permanent_error(sim, connect, monkeypatch):
    connector = connect(sim)
    connector.find_ticket("48213")
    monkeypatch.setattr(sim.sim, "token_lifetime", 0)  # every new token is born expired
    sim.sim.revoke_tokens()

    with pytest.raises(PermanentError) as caught:
        connector.add_time("48213", payload())

    assert caught.value.status == 401
    assert len(api_requests(sim, "POST", "/api/Actions")) == 2
    assert sim.entries() == []


def test_bad_credentials_are_a_permanent_error_with_halos_own_words(sim, connect):
    connector = connect(sim, client_secret="not-the-secret")

    with pytest.raises(PermanentError) as caught:
        connector.find_ticket("48213")

    assert caught.value.status == 401
    assert "invalid_client" in caught.value.message
    assert api_requests(sim, "GET", "/api/Tickets/48213") == []


def test_check_auth_reports_a_working_connection_and_a_refused_one(sim, connect):
    assert connect(sim).check_auth().ok
    refused = connect(sim, client_id="someone-else").check_auth()
    assert not refused.ok
    assert "invalid_client" in refused.detail


def test_credentials_without_a_client_secret_are_refused_before_any_request(sim, http):
    config = ConnectionConfig("halopsa", sim.base_url, {"client_id": "x"}, timeout=2)
    with pytest.raises(PermanentError, match="client_secret"):
        HaloPsaConnector(config, http=http, cache=DictCache())
    assert sim.requests == []


# --- tickets --------------------------------------------------------------------------


@pytest.mark.parametrize("written", ["48213", "#48213", "0048213", "Ticket 48213", " 48213 "])
def test_the_msps_ticket_number_is_the_halo_ticket_id(written):
    assert ticket_id_from_number(written) == 48213


def test_find_ticket_looks_the_ticket_up_by_its_id(sim, connect):
    assert connect(sim).find_ticket("#0048213") == "48213"
    assert [r.path for r in sim.requests if r.path.startswith("/api")] == ["/api/Tickets/48213"]


def test_find_ticket_raises_ticket_not_found_for_an_unknown_number(sim, connect):
    with pytest.raises(TicketNotFound):
        connect(sim).find_ticket("99999")


def test_find_ticket_refuses_a_number_that_is_not_a_halo_id_without_asking(sim, connect):
    with pytest.raises(TicketNotFound):
        connect(sim).find_ticket("INC-4411")
    assert sim.requests == []


# --- adding time ----------------------------------------------------------------------


def test_add_time_posts_an_array_of_one_action_with_every_field_we_own(sim, connect):
    entry = connect(sim).add_time("48213", payload(work_type="", billing_code=""))

    [post] = api_requests(sim, "POST", "/api/Actions")
    assert post.headers["Content-Type"] == "application/json"
    assert post.json() == [
        {
            "ticket_id": 48213,
            "who_agentid": 27,
            "note": f"{SUMMARY}\n\n{MARKER}",
            "hiddenfromuser": True,
            "sendemail": False,
            "timetaken": 0.75,
            "actisbillable": True,
            "actionarrivaldate": "2026-03-02T09:00:00Z",
            "actioncompletiondate": "2026-03-02T09:45:00Z",
            "actiondatecreated": "2026-03-02T09:45:00Z",
            "outcome_id": 7,
        }
    ]
    assert entry.sent == post.json()
    [stored] = sim.entries()
    assert entry.id == str(stored["id"])
    assert stored["hours"] == 0.75 and stored["member"] == "27"


def test_add_time_sends_the_configured_action_charge_rate_and_billable_flag(sim, connect):
    connect(sim).add_time("48213", payload(work_type="Remote Support", billing_code="3"))
    connect(sim).add_time("48213", payload(work_type="21", billable=False))

    first, second = (r.json()[0] for r in api_requests(sim, "POST", "/api/Actions"))
    assert first["outcome"] == "Remote Support" and "outcome_id" not in first
    assert first["chargerate"] == 3
    assert second["outcome_id"] == 21 and "outcome" not in second
    assert second["actisbillable"] is False and "chargerate" not in second


def test_the_summary_is_the_note_and_the_marker_stays_where_the_customer_cannot_see_it(
    sim, connect
):
    connect(sim).add_time("48213", payload())

    [stored] = sim.entries()
    assert stored["summary"] == SUMMARY
    assert stored["marker"] == MARKER
    assert stored["hiddenfromuser"] is True and stored["visible_to_customer"] is False
    # Only the summary is free text: nothing else we hold travels in the body.
    [post] = api_requests(sim, "POST", "/api/Actions")
    assert post.body.decode().count("Restarted") == 1


def test_nothing_but_the_payload_and_halos_flags_leaves_us(sim, connect):
    connect(sim).add_time("48213", payload(role="Service Desk"))

    [post] = api_requests(sim, "POST", "/api/Actions")
    assert "Service Desk" not in post.everything()  # Halo actions have no role


def test_a_member_that_is_not_a_halo_agent_id_is_refused_before_sending(sim, connect):
    with pytest.raises(PermanentError, match="agent ids are numbers"):
        connect(sim).add_time("48213", payload(member="jdoe"))
    assert api_requests(sim, "POST", "/api/Actions") == []


def test_a_validation_error_is_a_permanent_error_with_halos_message(sim, connect, monkeypatch):
    monkeypatch.setattr(HaloPsaConnector, "default_outcome_id", None)

    with pytest.raises(PermanentError) as caught:
        connect(sim).add_time("48213", payload(work_type=""))

    assert caught.value.status == 400
    assert caught.value.message == "HaloPSA 400: An Outcome must be entered for this Action"
    assert sim.entries() == []


# --- failures -------------------------------------------------------------------------


def test_a_429_is_retryable_after_the_time_halo_names(serve, connect):
    sim = serve(limits=Limits(requests=2, per_seconds=60))
    connector = connect(sim)
    connector.find_ticket("48213")  # the token and the lookup use up the window

    with pytest.raises(RetryableError) as caught:
        connector.add_time("48213", payload())

    assert caught.value.status == 429
    assert 0 < caught.value.retry_after <= 60
    assert "Rate Limit Reached" in caught.value.message
    assert not caught.value.maybe_applied
    assert sim.entries() == []


def test_a_429_without_retry_after_waits_a_minute_of_halos_rolling_window(serve, connect):
    sim = serve(limits=Limits(requests=2, per_seconds=60))
    sim.sim.send_retry_after = False
    connector = connect(sim)
    connector.find_ticket("48213")

    with pytest.raises(RetryableError) as caught:
        connector.add_time("48213", payload())

    assert caught.value.retry_after == HaloPsaConnector.rate_limit_wait


def test_a_500_on_a_write_is_retryable_and_may_have_been_applied(sim, connect):
    connector = connect(sim)
    connector.find_ticket("48213")
    sim.set_faults(Faults(error_rate=1.0))

    with pytest.raises(RetryableError) as caught:
        connector.add_time("48213", payload())

    assert caught.value.status == 500
    assert caught.value.maybe_applied


def test_a_failed_token_request_is_retryable_but_never_maybe_applied(serve, connect):
    sim = serve(faults=Faults(error_rate=1.0))

    with pytest.raises(RetryableError) as caught:
        connect(sim).add_time("48213", payload())

    assert caught.value.status == 500
    assert not caught.value.maybe_applied


def test_a_lost_answer_is_found_by_its_marker_so_the_entry_exists_once(sim, connect):
    connector = connect(sim)
    ticket_id = connector.find_ticket("48213")
    sim.set_faults(Faults(lost_rate=1.0))

    with pytest.raises(RetryableError) as caught:
        connector.add_time(ticket_id, payload())
    assert caught.value.maybe_applied

    sim.set_faults(Faults())
    found = connector.find_by_marker(ticket_id, MARKER)
    if found is None:  # what the outbox does: send only when the marker is not there
        connector.add_time(ticket_id, payload())

    [stored] = sim.entries()
    assert found is not None and found.id == str(stored["id"])
    assert stored["marker"] == MARKER


def test_a_timeout_on_a_write_is_retryable_and_may_have_been_applied(sim, connect):
    connector = connect(sim, timeout=0.05)
    connector.find_ticket("48213")
    sim.set_faults(Faults(timeout_rate=1.0, hang=0.1))

    with pytest.raises(RetryableError) as caught:
        connector.add_time("48213", payload())

    assert caught.value.maybe_applied


# --- finding, updating, deleting ------------------------------------------------------


def test_find_by_marker_follows_halos_pages(sim, connect, monkeypatch):
    monkeypatch.setattr(HaloPsaConnector, "page_size", 2)
    connector = connect(sim)
    for n in range(4):
        connector.add_time("48213", payload(marker=f"[hd:other-{n}]"))
    ours = connector.add_time("48213", payload())

    found = connector.find_by_marker("48213", MARKER)

    assert found is not None and found.id == ours.id
    pages = api_requests(sim, "GET", "/api/Actions")
    assert [parse_qs(r.query)["page_no"] for r in pages] == [["1"], ["2"], ["3"]]
    assert parse_qs(pages[0].query) == {
        "ticket_id": ["48213"],
        "excludesys": ["true"],
        "pageinate": ["true"],
        "page_size": ["2"],
        "page_no": ["1"],
    }


def test_find_by_marker_returns_none_when_no_action_carries_it(sim, connect, monkeypatch):
    monkeypatch.setattr(HaloPsaConnector, "page_size", 2)
    connector = connect(sim)
    for n in range(4):
        connector.add_time("48213", payload(marker=f"[hd:other-{n}]"))

    assert connector.find_by_marker("48213", MARKER) is None
    # Two pages hold the four actions record_count announces: no third request.
    assert len(api_requests(sim, "GET", "/api/Actions")) == 2


def test_update_time_posts_the_action_with_its_id_and_changes_it_in_place(sim, connect):
    connector = connect(sim)
    entry = connector.add_time("48213", payload())

    updated = connector.update_time(
        "48213", entry.id, payload(hours=Decimal("1.50"), summary="Replaced the fuser unit.")
    )

    assert connector.can_update
    assert updated.id == entry.id
    [_, post] = api_requests(sim, "POST", "/api/Actions")
    assert post.json()[0]["id"] == int(entry.id)
    assert updated.sent == post.json()
    [stored] = sim.entries()
    assert stored["hours"] == 1.5
    assert stored["summary"] == "Replaced the fuser unit."
    assert stored["marker"] == MARKER


def test_update_time_of_an_action_that_is_gone_is_a_permanent_error(sim, connect):
    with pytest.raises(PermanentError) as caught:
        connect(sim).update_time("48213", "424242", payload())
    assert caught.value.status == 404
    assert not isinstance(caught.value, NotSupported)


def test_delete_time_deletes_the_action_on_its_ticket(sim, connect):
    connector = connect(sim)
    entry = connector.add_time("48213", payload())

    connector.delete_time("48213", entry.id)

    assert connector.can_delete
    assert sim.entries() == []
    [delete] = api_requests(sim, "DELETE", f"/api/Actions/{entry.id}")
    assert parse_qs(delete.query) == {"ticket_id": ["48213"]}


def test_delete_time_of_an_action_already_gone_counts_as_deleted(sim, connect):
    connector = connect(sim)
    entry = connector.add_time("48213", payload())
    connector.delete_time("48213", entry.id)

    connector.delete_time("48213", entry.id)  # no error

    assert sim.entries() == []
