"""The ConnectWise PSA connector against the ConnectWise simulator, served in-process."""

from __future__ import annotations

import base64
from collections.abc import Callable
from datetime import UTC, datetime
from decimal import Decimal
from functools import partial
from urllib.parse import parse_qs

import httpx
import pytest

from psasync.connectors.base import (
    PermanentError,
    RemoteEntry,
    RetryableError,
    TicketNotFound,
    TimePayload,
)
from psasync.connectors.connectwise import ConnectWiseConnector, ticket_id_from_number
from psasync.simulator import Faults, Limits, Simulator
from tests.psasync.conftest import connector_for

MARKER = "[hd:6f1c2b9e-0d4a-4c1e-9a57-3b8e2f1d0c44]"
SUMMARY = "Restarted the print spooler on FS01; the queue prints again."


def payload(**changes: object) -> TimePayload:
    fields = {
        "marker": MARKER,
        "ticket_number": "Ticket #48213",
        "member": "jdoe",
        "started_at": datetime(2026, 3, 2, 9, 0, tzinfo=UTC),
        "ended_at": datetime(2026, 3, 2, 9, 45, tzinfo=UTC),
        "hours": Decimal("0.75"),
        "summary": SUMMARY,
        "work_type": "Remote Support",
        "role": "Service Desk",
        "billable": True,
    }
    return TimePayload(**{**fields, **changes})


@pytest.fixture
def serve(serve_sim) -> Callable[..., Simulator]:
    """Start a simulator (limits, faults) knowing the ticket; it stops after the test."""

    def start(**options: object) -> Simulator:
        sim = serve_sim("connectwise", **options)
        sim.add_ticket("48213", summary="Printer offline")
        return sim

    return start


@pytest.fixture
def sim(serve: Callable[..., Simulator]) -> Simulator:
    return serve()


@pytest.fixture
def connect(http: httpx.Client) -> Callable[..., ConnectWiseConnector]:
    return partial(connector_for, "connectwise", http=http)


def writes(sim: Simulator) -> list:
    return [r for r in sim.requests if r.method != "GET"]


def query(recorded) -> dict[str, str]:
    return {key: values[0] for key, values in parse_qs(recorded.query).items()}


# --- add_time: what leaves us --------------------------------------------------------


def test_add_time_posts_every_documented_field_of_a_service_ticket_time_entry(sim, connect):
    connector = connect(sim)

    entry = connector.add_time("48213", payload())

    (post,) = writes(sim)
    assert (post.method, post.path) == ("POST", "/v4_6_release/apis/3.0/time/entries")
    expected = {
        "chargeToType": "ServiceTicket",
        "chargeToId": 48213,
        "member": {"identifier": "jdoe"},
        "timeStart": "2026-03-02T09:00:00Z",
        "timeEnd": "2026-03-02T09:45:00Z",
        "billableOption": "Billable",
        "notes": SUMMARY,
        "internalNotes": MARKER,
        "addToDetailDescriptionFlag": True,
        "addToInternalAnalysisFlag": False,
        "addToResolutionFlag": False,
        "emailResourceFlag": False,
        "emailContactFlag": False,
        "emailCcFlag": False,
        "workType": {"name": "Remote Support"},
        "workRole": {"name": "Service Desk"},
    }
    assert post.json() == expected
    assert entry.sent == expected
    assert entry.id == str(sim.entries()[0]["id"])


def test_every_request_carries_basic_auth_of_company_plus_public_key_and_the_client_id(
    sim, connect
):
    connect(sim).add_time("48213", payload())

    headers = sim.requests[0].headers
    scheme, _, encoded = headers["Authorization"].partition(" ")
    assert scheme == "Basic"
    assert base64.b64decode(encoded).decode() == "simmsp+SimPublicKey01:SimPrivateKey01"
    assert headers["Clientid"] == sim.credentials()["client_id"]
    assert headers["Content-Type"] == "application/json"


def test_the_summary_is_the_customer_visible_notes_and_the_marker_only_the_internal_notes(
    sim, connect
):
    connect(sim).add_time("48213", payload())

    (stored,) = sim.entries()
    assert stored["summary"] == SUMMARY == stored["notes"]
    assert stored["marker"] == MARKER == stored["internalNotes"]
    assert "hd:" not in stored["notes"]
    assert stored["member"] == "jdoe"
    assert stored["ticket_id"] == 48213
    assert stored["hours"] == 0.75


def test_fewer_hours_than_the_span_are_sent_as_a_deduction(sim, connect):
    connect(sim).add_time("48213", payload(hours=Decimal("0.50")))

    assert writes(sim)[0].json()["hoursDeduct"] == 0.25
    assert sim.entries()[0]["hours"] == 0.5


def test_time_not_billable_is_do_not_bill_and_unconfigured_codes_are_left_out(sim, connect):
    connect(sim).add_time("48213", payload(billable=False, work_type="", role=""))

    body = writes(sim)[0].json()
    assert body["billableOption"] == "DoNotBill"
    assert "workType" not in body and "workRole" not in body and "hoursDeduct" not in body


# --- find_ticket ---------------------------------------------------------------------


@pytest.mark.parametrize("written", ["48213", "#48213", "Ticket #48213", " ticket#48213 "])
def test_find_ticket_reads_the_number_however_the_msp_writes_it(sim, connect, written):
    assert connect(sim).find_ticket(written) == "48213"

    (lookup,) = sim.requests
    assert lookup.path == "/v4_6_release/apis/3.0/service/tickets"
    assert query(lookup)["conditions"] == "id=48213"


def test_find_ticket_raises_ticket_not_found_for_a_number_connectwise_does_not_have(sim, connect):
    with pytest.raises(TicketNotFound, match="#99999"):
        connect(sim).find_ticket("#99999")


def test_a_number_that_is_not_a_connectwise_ticket_id_is_refused_without_asking(sim, connect):
    with pytest.raises(TicketNotFound):
        connect(sim).find_ticket("T20261201.0042")
    assert sim.requests == []


@pytest.mark.parametrize("written", ["", "#", "0", "Ticket #"])
def test_ticket_numbers_without_an_id_are_not_found(written):
    with pytest.raises(TicketNotFound):
        ticket_id_from_number(written)


# --- refusals --------------------------------------------------------------------------


def test_bad_credentials_raise_a_permanent_error_with_connectwise_s_message(sim, connect):
    connector = connect(sim, private_key="wrong")

    with pytest.raises(PermanentError) as caught:
        connector.add_time("48213", payload())

    assert caught.value.status == 401
    assert "Incorrect public/private key" in caught.value.message
    assert sim.entries() == []


def test_check_auth_says_whether_the_keys_work(sim, connect):
    assert connect(sim).check_auth().ok
    failed = connect(sim, public_key="nope").check_auth()
    assert not failed.ok and "Incorrect public/private key" in failed.detail


def test_a_missing_required_field_is_a_permanent_error_with_each_of_connectwise_s_errors(
    sim, connect
):
    with pytest.raises(PermanentError) as caught:
        connect(sim).add_time("48213", payload(member=""))

    assert caught.value.status == 400
    assert caught.value.message == (
        "ConnectWise PSA 400: timeEntry object is invalid: The member field is required. (member)"
    )
    assert sim.entries() == []


def test_too_many_requests_is_retryable_after_connectwise_s_retry_after(serve, connect):
    sim = serve(limits=Limits(requests=1, per_seconds=60))
    connector = connect(sim)
    connector.find_ticket("48213")

    with pytest.raises(RetryableError) as caught:
        connector.add_time("48213", payload())

    assert caught.value.status == 429
    assert 55 <= caught.value.retry_after <= 60
    assert not caught.value.maybe_applied


def test_a_server_error_on_a_write_is_retryable_and_maybe_applied(serve, connect):
    sim = serve(faults=Faults(error_rate=1.0))

    with pytest.raises(RetryableError) as caught:
        connect(sim).add_time("48213", payload())

    assert caught.value.status == 500
    assert caught.value.maybe_applied


def test_a_write_that_times_out_is_retryable_and_maybe_applied(serve, connect):
    sim = serve(faults=Faults(timeout_rate=1.0, hang=0.3))

    with pytest.raises(RetryableError) as caught:
        connect(sim, timeout=0.1).add_time("48213", payload())

    assert caught.value.maybe_applied


def test_a_lost_answer_is_found_by_its_marker_so_the_entry_exists_once(serve, connect):
    sim = serve(faults=Faults(lost_rate=1.0))
    connector = connect(sim)

    with pytest.raises(RetryableError) as caught:
        connector.add_time("48213", payload())
    assert caught.value.maybe_applied

    sim.set_faults(Faults())
    found = connector.find_by_marker("48213", MARKER)
    if found is None:  # what the outbox does: look first, send only if absent
        connector.add_time("48213", payload())

    (stored,) = sim.entries()
    assert found is not None and found.id == str(stored["id"])
    assert stored["marker"] == MARKER


# --- find_by_marker ----------------------------------------------------------------------


def test_find_by_marker_follows_the_link_header_to_later_pages(sim, connect, monkeypatch):
    monkeypatch.setattr(ConnectWiseConnector, "page_size", 2)
    monkeypatch.setattr(type(sim.sim), "max_page_size", 2)
    connector = connect(sim)
    for n in range(4):  # markers that contain ours as text, but are not ours
        connector.add_time("48213", payload(marker=f"{MARKER[:-1]}-{n}]"))
    connector.add_time("48213", payload())
    sim.requests.clear()

    found = connector.find_by_marker("48213", MARKER)

    assert found is not None and found.id == str(sim.entries()[-1]["id"])
    pages = [query(r) for r in sim.requests]
    assert [p.get("page", "1") for p in pages] == ["1", "2", "3"]
    assert pages[0]["pageSize"] == "2"
    assert pages[0]["conditions"] == (
        f'chargeToType="ServiceTicket" and chargeToId=48213'
        f' and internalNotes like "%{MARKER[1:-1]}%"'
    )


def test_find_by_marker_ignores_other_tickets_and_answers_none_when_absent(sim, connect):
    sim.add_ticket("50001")
    connector = connect(sim)
    connector.add_time("50001", payload())

    assert connector.find_by_marker("48213", MARKER) is None
    assert connector.find_by_marker("50001", MARKER) is not None


# --- update and delete ---------------------------------------------------------------------


def test_update_time_patches_the_fields_we_own_and_nothing_else(sim, connect):
    connector = connect(sim)
    entry = connector.add_time("48213", payload())
    changed = payload(summary="Replaced the toner; printing works.", hours=Decimal("0.50"))

    updated = connector.update_time("48213", entry.id, changed)

    patch = writes(sim)[-1]
    assert (patch.method, patch.path) == (
        "PATCH",
        f"/v4_6_release/apis/3.0/time/entries/{entry.id}",
    )
    operations = {op["path"]: op["value"] for op in patch.json()}
    assert {op["op"] for op in patch.json()} == {"replace"}
    assert operations["notes"] == "Replaced the toner; printing works."
    assert operations["internalNotes"] == MARKER
    assert operations["hoursDeduct"] == 0.25
    assert "chargeToId" not in operations and "chargeToType" not in operations
    assert updated.sent == patch.json()
    (stored,) = sim.entries()
    assert (stored["summary"], stored["hours"], stored["marker"]) == (
        "Replaced the toner; printing works.",
        0.5,
        MARKER,
    )


def test_delete_time_removes_the_entry_and_an_entry_already_gone_counts_as_deleted(sim, connect):
    connector = connect(sim)
    entry = connector.add_time("48213", payload())

    connector.delete_time("48213", entry.id)
    connector.delete_time("48213", entry.id)

    assert sim.entries() == []
    assert [(r.method, r.path.rsplit("/", 1)[-1]) for r in writes(sim)[1:]] == [
        ("DELETE", entry.id),
        ("DELETE", entry.id),
    ]


def test_find_by_marker_reads_the_ticket_s_entries_when_internal_notes_cannot_be_filtered(
    sim, connect, monkeypatch
):
    from psasync.simulator import connectwise as cw_sim

    parse = cw_sim.parse_conditions

    def no_like(conditions: str):
        if " like " in conditions:
            raise cw_sim.InvalidConditions("internalNotes cannot be used in conditions")
        return parse(conditions)

    monkeypatch.setattr(cw_sim, "parse_conditions", no_like)
    connector = connect(sim)
    connector.add_time("48213", payload(marker=f"{MARKER[:-1]}-0]"))
    entry = connector.add_time("48213", payload())

    assert connector.find_by_marker("48213", MARKER) == RemoteEntry(id=entry.id)
    assert query(sim.requests[-1])["conditions"] == (
        'chargeToType="ServiceTicket" and chargeToId=48213'
    )
