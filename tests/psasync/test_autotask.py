"""The Autotask connector against the Autotask simulator, served in-process."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime
from decimal import Decimal
from functools import partial
from urllib.parse import parse_qs

import httpx
import pytest

from psasync.connectors.autotask import AutotaskConnector
from psasync.connectors.base import (
    DictCache,
    PermanentError,
    RetryableError,
    TicketNotFound,
    TimePayload,
)
from psasync.simulator import Faults, Limits, Simulator
from psasync.simulator.core import json_response
from tests.psasync.conftest import connector_for

MARKER = "[hd:6f1c2b9e-0d4a-4c1e-9a57-3b8e2f1d0c44]"
SUMMARY = "Restarted the print spooler on FS01; the queue prints again."
NUMBER = "T20261201.0042"


def payload(**changes: object) -> TimePayload:
    fields = {
        "marker": MARKER,
        "ticket_number": NUMBER,
        "member": "29682886",
        "started_at": datetime(2026, 12, 1, 9, 0, tzinfo=UTC),
        "ended_at": datetime(2026, 12, 1, 9, 45, tzinfo=UTC),
        "hours": Decimal("0.75"),
        "summary": SUMMARY,
        "work_type": "29682833",
        "role": "29683461",
        "billable": True,
    }
    return TimePayload(**{**fields, **changes})


@pytest.fixture
def serve(serve_sim) -> Callable[..., Simulator]:
    """Start a simulator (limits, faults) knowing the ticket; it stops after the test."""

    def start(**options: object) -> Simulator:
        sim = serve_sim("autotask", **options)
        sim.add_ticket(NUMBER, title="Printer offline")
        return sim

    return start


@pytest.fixture
def sim(serve: Callable[..., Simulator]) -> Simulator:
    return serve()


@pytest.fixture
def connect(http: httpx.Client) -> Callable[..., AutotaskConnector]:
    return partial(connector_for, "autotask", http=http)


def ticket_id(sim: Simulator) -> str:
    return str(next(t["id"] for t in sim.state.tickets.values() if t["number"] == NUMBER))


def writes(sim: Simulator) -> list:
    return [r for r in sim.requests if r.method in ("POST", "PATCH", "DELETE")]


# --- zone discovery and authentication ---------------------------------------------


def test_it_finds_the_zone_first_and_then_talks_only_to_the_zone(sim, connect):
    connect(sim).find_ticket(NUMBER)

    lookup, query = sim.requests
    assert lookup.path == "/atservicesrest/V1.0/zoneInformation"
    assert parse_qs(lookup.query) == {"user": [sim.credentials()["username"]]}
    assert query.path == "/ws5/ATServicesRest/V1.0/Tickets/query"


def test_the_zone_lookup_sends_no_credentials(sim, connect):
    connect(sim).find_ticket(NUMBER)

    headers = {name.lower() for name in sim.requests[0].headers}
    assert not {"secret", "apiintegrationcode"} & headers


def test_a_zone_on_a_foreign_host_gets_no_credentials(sim, connect):
    # The zone lookup is unauthenticated: whoever answers it must not collect our secret.
    sim.sim.zone_information = lambda request: json_response(
        {"zoneName": "Elsewhere", "url": "https://collector.example.net/ATServicesRest/"}
    )
    with pytest.raises(PermanentError, match="collector.example.net.*not sent there"):
        connect(sim).find_ticket(NUMBER)
    assert len(sim.requests) == 1  # the lookup only


@pytest.mark.parametrize(
    ("zone", "trusted"),
    [
        ("https://webservices5.autotask.net/ATServicesRest/", True),
        ("http://webservices5.autotask.net/ATServicesRest/", False),
        ("https://webservices5.autotask.net.evil.example/ATServicesRest/", False),
        ("https://evilautotask.net/x/", False),
    ],
)
def test_only_an_autotask_host_over_https_or_the_configured_host_is_a_zone(zone, trusted):
    from psasync.connectors.autotask import _trusted_zone

    assert _trusted_zone(zone, "https://webservices.autotask.net/atservicesrest") is trusted
    assert _trusted_zone("http://127.0.0.1:8765/autotask/ws5/", "http://127.0.0.1:8765/autotask")


def test_the_zone_url_is_cached_per_user_for_a_day(sim, connect):
    clock = [1_000_000.0]
    cache = DictCache(now=lambda: clock[0])

    connect(sim, cache=cache).find_ticket(NUMBER)
    connect(sim, cache=cache).find_ticket(NUMBER)
    clock[0] += 24 * 3600 - 1
    connect(sim, cache=cache).find_ticket(NUMBER)
    lookups_within_a_day = sum(r.path.endswith("/zoneInformation") for r in sim.requests)
    clock[0] += 2
    connect(sim, cache=cache).find_ticket(NUMBER)

    assert lookups_within_a_day == 1
    assert sum(r.path.endswith("/zoneInformation") for r in sim.requests) == 2
    # Keyed by the discovery root too: another root may send the user to another zone.
    assert list(cache.values) == [f"autotask:zone:{sim.base_url}:{sim.credentials()['username']}"]


def test_every_zone_request_carries_the_three_autotask_headers(sim, connect):
    connect(sim).add_time(ticket_id(sim), payload())

    credentials = sim.credentials()
    for request in sim.requests[1:]:
        assert request.headers["Apiintegrationcode"] == credentials["integration_code"]
        assert request.headers["Username"] == credentials["username"]
        assert request.headers["Secret"] == credentials["secret"]
        assert "Authorization" not in request.headers


def test_an_unknown_api_user_is_a_permanent_error_naming_the_user(sim, connect):
    connector = connect(sim, username="nobody@msp.example")

    with pytest.raises(PermanentError, match="nobody@msp.example"):
        connector.find_ticket(NUMBER)


def test_a_wrong_secret_is_a_permanent_error_with_autotasks_own_message(sim, connect):
    with pytest.raises(PermanentError) as caught:
        connect(sim, secret="not-it").find_ticket(NUMBER)

    assert caught.value.status == 401
    assert "the secret does not match the user" in caught.value.message


def test_a_wrong_integration_code_answered_with_500_is_permanent_not_retried(sim, connect):
    with pytest.raises(PermanentError) as caught:
        connect(sim, integration_code="WRONG").find_ticket(NUMBER)

    assert not isinstance(caught.value, RetryableError)
    assert caught.value.status == 500
    assert "integration code" in caught.value.message


def test_check_auth_reports_the_hours_request_usage(sim, connect):
    check = connect(sim).check_auth()

    assert check.ok
    assert "of 10000 requests used" in check.detail
    assert sim.requests[-1].path == "/ws5/ATServicesRest/V1.0/ThresholdInformation"


def test_check_auth_fails_with_autotasks_message_on_a_wrong_secret(sim, connect):
    check = connect(sim, secret="not-it").check_auth()

    assert not check.ok
    assert "Autotask 401" in check.detail


# --- tickets ----------------------------------------------------------------------


def test_find_ticket_resolves_the_ticket_number_with_a_ticket_number_query(sim, connect):
    found = connect(sim).find_ticket(f" {NUMBER} ")

    assert found == ticket_id(sim)
    search = json.loads(parse_qs(sim.requests[-1].query)["search"][0])
    assert search["filter"] == [{"op": "eq", "field": "ticketNumber", "value": NUMBER}]


def test_find_ticket_raises_ticket_not_found_for_an_unknown_number(sim, connect):
    with pytest.raises(TicketNotFound, match="T20261201.9999"):
        connect(sim).find_ticket("T20261201.9999")


# --- the time entry ---------------------------------------------------------------


def test_add_time_posts_every_documented_field_to_time_entries(sim, connect):
    entry = connect(sim).add_time(ticket_id(sim), payload())

    (post,) = writes(sim)
    assert (post.method, post.path) == ("POST", "/ws5/ATServicesRest/V1.0/TimeEntries")
    assert post.headers["Content-Type"] == "application/json"
    assert post.json() == {
        "ticketID": int(ticket_id(sim)),
        "resourceID": 29682886,
        "roleID": 29683461,
        "billingCodeID": 29682833,
        "startDateTime": "2026-12-01T09:00:00Z",
        "endDateTime": "2026-12-01T09:45:00Z",
        "hoursWorked": 0.75,
        "summaryNotes": SUMMARY,
        "internalNotes": MARKER,
        "isNonBillable": False,
    }
    assert entry.sent == post.json()
    (stored,) = sim.entries()
    assert entry.id == str(stored["id"])
    assert (stored["ticket_id"], stored["member"], stored["hours"]) == (
        int(ticket_id(sim)),
        "29682886",
        0.75,
    )


def test_the_summary_is_the_customer_visible_text_and_the_marker_stays_internal(sim, connect):
    connect(sim).add_time(ticket_id(sim), payload())

    (stored,) = sim.entries()
    assert stored["summary"] == stored["summaryNotes"] == SUMMARY
    assert stored["marker"] == MARKER
    assert stored["internalNotes"] == MARKER
    assert "[hd:" not in stored["summaryNotes"]


def test_a_non_billable_entry_is_sent_as_is_non_billable(sim, connect):
    connect(sim).add_time(ticket_id(sim), payload(billable=False))

    assert writes(sim)[0].json()["isNonBillable"] is True


def test_the_billing_code_fills_billing_code_id_only_when_no_work_type_is_set(sim, connect):
    connector = connect(sim)
    connector.add_time(ticket_id(sim), payload(work_type="", billing_code="29682900"))
    connector.add_time(ticket_id(sim), payload(billing_code="29682900"))
    connector.add_time(ticket_id(sim), payload(work_type="", billing_code=""))

    sent = [request.json() for request in writes(sim)]
    assert sent[0]["billingCodeID"] == 29682900
    assert sent[1]["billingCodeID"] == 29682833
    assert "billingCodeID" not in sent[2]


def test_a_member_that_is_not_a_resource_id_is_refused_before_anything_is_sent(sim, connect):
    with pytest.raises(PermanentError, match="numeric resource id"):
        connect(sim).add_time(ticket_id(sim), payload(member="jdoe"))

    assert writes(sim) == []


def test_a_missing_role_is_refused_by_autotask_and_is_permanent_with_its_message(sim, connect):
    with pytest.raises(PermanentError) as caught:
        connect(sim).add_time(ticket_id(sim), payload(role=""))

    assert not isinstance(caught.value, RetryableError)
    assert caught.value.message == "Autotask 500: TimeEntries for Tickets must have a roleID"
    assert "roleID" not in writes(sim)[0].json()
    assert sim.entries() == []


def test_a_blank_summary_is_refused_with_autotasks_message(sim, connect):
    with pytest.raises(PermanentError, match="summaryNotes can not be blank"):
        connect(sim).add_time(ticket_id(sim), payload(summary="  "))

    assert sim.entries() == []


# --- limits and faults ------------------------------------------------------------


def test_a_429_with_retry_after_is_retryable_after_that_many_seconds(serve, connect):
    sim = serve(limits=Limits(requests=2, per_seconds=60))
    connector = connect(sim)
    connector.find_ticket(NUMBER)  # the zone lookup is not counted; this query is

    connector.find_ticket(NUMBER)
    with pytest.raises(RetryableError) as caught:
        connector.find_ticket(NUMBER)

    assert caught.value.status == 429
    assert 0 < caught.value.retry_after <= 60
    assert "threshold exceeded" in caught.value.message
    assert not caught.value.maybe_applied


def test_an_unexplained_500_on_a_write_is_retryable_and_maybe_applied(sim, connect):
    connector = connect(sim)
    connector.find_ticket(NUMBER)  # the zone is known before the fault starts
    sim.set_faults(Faults(error_rate=1.0))

    with pytest.raises(RetryableError) as caught:
        connector.add_time(ticket_id(sim), payload())

    assert caught.value.status == 500
    assert caught.value.maybe_applied
    assert "Internal server error" in caught.value.message


def test_a_timeout_on_a_write_is_retryable_and_maybe_applied(serve, connect):
    sim = serve()
    connector = connect(sim, timeout=0.15)
    connector.find_ticket(NUMBER)
    sim.set_faults(Faults(timeout_rate=1.0, hang=0.3))

    with pytest.raises(RetryableError) as caught:
        connector.add_time(ticket_id(sim), payload())

    assert caught.value.maybe_applied


def test_a_lost_response_is_recovered_by_the_marker_so_one_entry_remains(sim, connect):
    connector = connect(sim)
    ticket = connector.find_ticket(NUMBER)
    sim.set_faults(Faults(lost_rate=1.0))

    with pytest.raises(RetryableError) as caught:
        connector.add_time(ticket, payload())
    assert caught.value.maybe_applied

    sim.set_faults(Faults())
    found = connector.find_by_marker(ticket, MARKER)
    if found is None:  # what a caller does: send only when the marker is not there
        connector.add_time(ticket, payload())

    (stored,) = sim.entries()
    assert found is not None and found.id == str(stored["id"])
    assert found.sent is None


# --- finding, changing and removing our entry ----------------------------------------


def test_find_by_marker_follows_next_page_url_across_pages(sim, connect, monkeypatch):
    monkeypatch.setattr(AutotaskConnector, "page_size", 2)
    connector = connect(sim)
    ticket = ticket_id(sim)
    for n in range(4):
        connector.add_time(ticket, payload(marker=f"[hd:other-{n}]"))
    ours = connector.add_time(ticket, payload())

    found = connector.find_by_marker(ticket, MARKER)

    assert found is not None and found.id == ours.id
    queries = [r for r in sim.requests if "/TimeEntries/query" in r.path]
    assert [r.path.rsplit("/", 1)[-1] for r in queries] == ["query", "next", "next"]
    search = json.loads(parse_qs(queries[0].query)["search"][0])
    assert search == {
        "filter": [{"op": "eq", "field": "ticketID", "value": int(ticket)}],
        "MaxRecords": 2,
        "IncludeFields": ["id", "internalNotes"],
    }


def test_find_by_marker_returns_none_when_no_entry_carries_the_marker(sim, connect):
    connector = connect(sim)
    connector.add_time(ticket_id(sim), payload(marker="[hd:someone-else]"))

    assert connector.find_by_marker(ticket_id(sim), MARKER) is None


def test_update_time_patches_the_entry_with_its_id_and_the_new_values(sim, connect):
    connector = connect(sim)
    entry = connector.add_time(ticket_id(sim), payload())
    later = datetime(2026, 12, 1, 10, 30, tzinfo=UTC)

    updated = connector.update_time(
        ticket_id(sim), entry.id, payload(ended_at=later, hours=Decimal("1.50"), summary="Fixed.")
    )

    patch = writes(sim)[-1]
    assert (patch.method, patch.path) == ("PATCH", "/ws5/ATServicesRest/V1.0/TimeEntries")
    assert patch.json()["id"] == int(entry.id)
    assert "ticketID" not in patch.json()
    assert updated.id == entry.id and updated.sent == patch.json()
    (stored,) = sim.entries()
    assert (stored["summary"], stored["hours"], stored["marker"]) == ("Fixed.", 1.5, MARKER)


def test_delete_time_removes_the_entry_and_a_gone_entry_counts_as_deleted(sim, connect):
    connector = connect(sim)
    entry = connector.add_time(ticket_id(sim), payload())

    connector.delete_time(ticket_id(sim), entry.id)
    connector.delete_time(ticket_id(sim), entry.id)

    assert sim.entries() == []
    deletes = [r for r in sim.requests if r.method == "DELETE"]
    assert [r.path for r in deletes] == [f"/ws5/ATServicesRest/V1.0/TimeEntries/{entry.id}"] * 2


def test_autotask_allows_updating_and_deleting_time_entries(sim, connect):
    connector = connect(sim)

    assert (connector.can_update, connector.can_delete, connector.refusal) == (True, True, "")
