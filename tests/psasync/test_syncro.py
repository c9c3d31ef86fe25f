"""The Syncro connector against the Syncro simulator, served in-process."""

from __future__ import annotations

import contextlib
import socket
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from urllib.parse import parse_qs

import httpx
import pytest

from psasync.connectors.base import (
    ConnectionConfig,
    DictCache,
    NotSupported,
    PermanentError,
    RemoteEntry,
    RetryableError,
    TicketNotFound,
    TimePayload,
)
from psasync.connectors.syncro import SyncroConnector
from psasync.simulator.core import Faults, Limits, Simulator

MARKER = "[hd:6f1c2a9e-4b1d-4f57-9a0e-3c2d1b0a9f88]"
START = datetime(2026, 3, 2, 14, 0, tzinfo=UTC)


def payload(**changes) -> TimePayload:
    fields = {
        "marker": MARKER,
        "ticket_number": "5028",
        "member": "7",
        "started_at": START,
        "ended_at": START + timedelta(minutes=45),
        "hours": Decimal("0.75"),
        "summary": "Reset the user's MFA and confirmed sign-in.",
        "work_type": "41",
    }
    return TimePayload(**{**fields, **changes})


@contextlib.contextmanager
def serve(**options) -> Iterator[Simulator]:
    """The simulator, served until the block ends."""
    simulator = Simulator("syncro", **options)
    running = simulator.serve()
    try:
        yield simulator
    finally:
        # serve_forever() looks for shutdown every 0.5 s; a connection wakes it sooner.
        stopper = threading.Thread(target=running.stop)
        stopper.start()
        while stopper.is_alive():
            with contextlib.suppress(OSError):
                socket.create_connection((running.server.host, running.server.port), 0.1).close()
            stopper.join(0.01)


@pytest.fixture
def sim():
    with serve() as simulator:
        yield simulator


def connect(
    sim: Simulator, http: httpx.Client, timeout: float = 2, **credentials
) -> SyncroConnector:
    config = ConnectionConfig("syncro", sim.base_url, credentials or sim.credentials(), timeout)
    return SyncroConnector(config, http=http, cache=DictCache())


@pytest.fixture
def connector(sim, http):
    return connect(sim, http)


@pytest.fixture
def ticket_id(sim):
    return str(sim.add_ticket("5028")["id"])


def writes(sim: Simulator) -> list:
    return [r for r in sim.requests if r.method != "GET"]


# --- add_time: what leaves us ---------------------------------------------------------


def test_add_time_posts_the_documented_timer_entry_body_with_a_bearer_key(
    sim, connector, ticket_id
):
    entry = connector.add_time(ticket_id, payload())

    (request,) = sim.requests
    assert (request.method, request.path) == ("POST", f"/api/v1/tickets/{ticket_id}/timer_entry")
    assert request.headers["Authorization"] == f"Bearer {sim.credentials()['api_key']}"
    assert request.headers["Content-Type"] == "application/json"
    assert request.json() == {
        "start_at": "2026-03-02T14:00:00Z",
        "end_at": "2026-03-02T14:45:00Z",
        "notes": f"Reset the user's MFA and confirmed sign-in.\n\n{MARKER}",
        "user_id": 7,
        "product_id": 41,
    }
    assert entry.sent == request.json()
    (stored,) = sim.entries()
    assert entry.id == str(stored["id"])
    assert (stored["ticket_id"], stored["member"], stored["hours"]) == (int(ticket_id), 7, 0.75)
    assert stored["start_time"] == "2026-03-02T14:00:00.000Z"
    assert stored["end_time"] == "2026-03-02T14:45:00.000Z"


def test_add_time_leaves_user_and_labor_product_to_syncro_when_not_configured(
    sim, connector, ticket_id
):
    connector.add_time(ticket_id, payload(member="", work_type=""))

    assert set(sim.requests[0].json()) == {"start_at", "end_at", "notes"}
    (stored,) = sim.entries()
    assert stored["user_id"] == sim.sim.api_user_id
    assert stored["product_id"] == sim.sim.default_labor_product_id


def test_add_time_never_sends_role_billing_code_or_hours_which_syncro_has_no_field_for(
    sim, connector, ticket_id
):
    connector.add_time(ticket_id, payload(role="Tier 2", billing_code="BC-9"))

    text = sim.requests[0].everything()
    assert "Tier 2" not in text and "BC-9" not in text and "0.75" not in text


def test_the_summary_is_the_visible_notes_and_the_marker_trails_on_its_own_line(
    sim, connector, ticket_id
):
    connector.add_time(ticket_id, payload())

    (stored,) = sim.entries()
    assert stored["summary"] == "Reset the user's MFA and confirmed sign-in."
    assert stored["marker"] == MARKER
    assert stored["notes"].splitlines()[-1] == MARKER


def test_an_empty_summary_leaves_only_the_marker_in_the_notes(sim, connector, ticket_id):
    connector.add_time(ticket_id, payload(summary=""))

    assert sim.requests[0].json()["notes"] == MARKER


def test_billable_is_left_to_syncro_when_its_default_already_matches(sim, connector, ticket_id):
    connector.add_time(ticket_id, payload(billable=True))

    assert len(writes(sim)) == 1
    assert "billable" not in sim.requests[0].json()


def test_non_billable_time_is_set_through_the_ticket_timer_patch(sim, connector, ticket_id):
    entry = connector.add_time(ticket_id, payload(billable=False))

    patch = sim.requests[1]
    assert (patch.method, patch.path) == ("PATCH", f"/api/v1/ticket_timers/{entry.id}")
    assert parse_qs(patch.query) == {"billable": ["false"]}
    assert sim.entries()[0]["billable"] is False


def test_a_failed_billable_patch_says_the_timer_exists_so_it_is_not_sent_twice(http):
    # One request a minute: the timer is created, the billable PATCH is refused (429).
    with serve(limits=Limits(requests=1, per_seconds=60)) as sim:
        sim.sim.billable_by_default = False  # this Syncro's "Time is Non-Billable by Default"
        ticket = str(sim.add_ticket("5028")["id"])
        with pytest.raises(RetryableError) as caught:
            connect(sim, http).add_time(ticket, payload(billable=True))

    assert caught.value.maybe_applied and caught.value.status == 429
    assert "created timer" in caught.value.message
    assert len(sim.entries()) == 1


def test_a_member_that_is_not_a_syncro_user_id_is_refused_before_anything_leaves(
    sim, connector, ticket_id
):
    with pytest.raises(PermanentError, match="user id"):
        connector.add_time(ticket_id, payload(member="alex@msp.example"))

    assert sim.requests == []


# --- tickets and authentication --------------------------------------------------------


def test_find_ticket_turns_the_msps_number_into_syncros_ticket_id(sim, connector):
    sim.add_ticket("5027")
    ticket = sim.add_ticket("5028")

    assert connector.find_ticket("5028") == str(ticket["id"])
    assert connector.find_ticket(" #5028 ") == str(ticket["id"])
    assert str(ticket["id"]) != "5028"
    assert parse_qs(sim.requests[0].query) == {"number": ["5028"], "page": ["1"]}


def test_find_ticket_raises_ticket_not_found_for_an_unknown_number(sim, connector):
    sim.add_ticket("5028")

    with pytest.raises(TicketNotFound):
        connector.find_ticket("9999")


def test_a_bad_api_key_is_a_permanent_error_carrying_syncros_message(sim, http, ticket_id):
    connector = connect(sim, http, api_key="not-the-key")

    with pytest.raises(PermanentError) as caught:
        connector.add_time(ticket_id, payload())

    assert caught.value.status == 401
    assert "the API token is missing or not valid" in caught.value.message
    assert sim.entries() == []
    check = connector.check_auth()
    assert not check.ok and "not valid" in check.detail


def test_check_auth_succeeds_with_the_right_key(connector):
    assert connector.check_auth().ok


def test_a_timer_without_start_at_is_rejected_with_syncros_own_error(sim, connector, ticket_id):
    with pytest.raises(PermanentError) as caught:
        connector.call("POST", f"/tickets/{ticket_id}/timer_entry", json={"notes": "x"})

    assert caught.value.status == 422
    assert caught.value.message == "Syncro 422: no implicit conversion of nil into String"


@pytest.mark.parametrize(
    ("body", "words"),
    [
        ({"error": "Customer required field"}, "Customer required field"),
        (
            {"errors": "Name can't be blank, Description can't be blank"},
            "Name can't be blank, Description can't be blank",
        ),
        ({"errors": ["billable must be true or false"]}, "billable must be true or false"),
        ({"errors": {"mute_for": ["is not valid"]}}, "mute_for: is not valid"),
        (
            {"success": False, "message": ["Body can't be blank", "Subject can't be blank"]},
            "Body can't be blank, Subject can't be blank",
        ),
        ({"message": "Not found"}, "Not found"),
    ],
)
def test_error_message_reads_every_documented_syncro_error_shape(connector, body, words):
    response = httpx.Response(422, json=body)

    message = connector.error_message(response)

    assert message == words


# --- failures the outbox retries ---------------------------------------------------------


def test_too_many_requests_is_retryable_after_the_retry_after_given(http):
    with serve(limits=Limits(requests=2, per_seconds=60)) as sim:
        connector = connect(sim, http)
        ticket = str(sim.add_ticket("5028")["id"])
        connector.find_ticket("5028")
        connector.add_time(ticket, payload())
        with pytest.raises(RetryableError) as caught:
            connector.add_time(ticket, payload())

    assert caught.value.status == 429
    assert 0 < caught.value.retry_after <= 60
    assert not caught.value.maybe_applied
    assert len(sim.entries()) == 1


def test_a_server_error_on_a_write_may_have_been_applied(sim, connector, ticket_id):
    sim.set_faults(Faults(error_rate=1.0))

    with pytest.raises(RetryableError) as caught:
        connector.add_time(ticket_id, payload())

    assert caught.value.status == 500 and caught.value.maybe_applied


def test_a_write_that_times_out_may_have_been_applied(sim, http, ticket_id):
    connector = connect(sim, http, timeout=0.05)
    sim.set_faults(Faults(timeout_rate=1.0, hang=0.1))

    with pytest.raises(RetryableError) as caught:
        connector.add_time(ticket_id, payload())

    assert caught.value.maybe_applied


def test_a_lost_answer_is_recovered_by_marker_so_exactly_one_timer_exists(
    sim, connector, ticket_id
):
    sim.set_faults(Faults(lost_rate=1.0))
    with pytest.raises(RetryableError) as caught:
        connector.add_time(ticket_id, payload())
    assert caught.value.maybe_applied
    sim.set_faults(Faults())

    # What the outbox does next: look for the marker before sending again.
    found = connector.find_by_marker(ticket_id, MARKER)
    if found is None:
        connector.add_time(ticket_id, payload())

    (stored,) = sim.entries()
    assert found is not None and found.id == str(stored["id"]) and found.sent is None
    assert stored["marker"] == MARKER


# --- find_by_marker ---------------------------------------------------------------------------


def seed_timers(sim: Simulator, ticket_id: str, count: int) -> None:
    for n in range(count):
        sim.state.add_entry(ticket_id=int(ticket_id), user_id=3, notes=f"Other work {n}")


def test_find_by_marker_follows_syncros_pages_to_the_last_one(sim, connector, ticket_id):
    other = sim.add_ticket("5029")
    seed_timers(sim, str(other["id"]), 3)
    seed_timers(sim, ticket_id, 2 * sim.sim.page_size)
    entry = connector.add_time(ticket_id, payload())
    sim.requests.clear()

    found = connector.find_by_marker(ticket_id, MARKER)

    assert found is not None and found.id == entry.id
    pages = [parse_qs(r.query) for r in sim.requests]
    assert pages == [{"ticket_id": [ticket_id], "page": [str(n)]} for n in (1, 2, 3)]


def test_find_by_marker_is_none_after_reading_every_page(sim, connector, ticket_id):
    seed_timers(sim, ticket_id, sim.sim.page_size + 1)

    assert connector.find_by_marker(ticket_id, MARKER) is None
    assert [parse_qs(r.query)["page"] for r in sim.requests] == [["1"], ["2"]]


def test_find_by_marker_ignores_the_marker_on_another_ticket(sim, connector, ticket_id):
    other = str(sim.add_ticket("5029")["id"])
    connector.add_time(other, payload())

    assert connector.find_by_marker(ticket_id, MARKER) is None


# --- update and delete --------------------------------------------------------------------------


def test_update_time_puts_the_documented_fields_and_syncro_applies_them(sim, connector, ticket_id):
    entry = connector.add_time(ticket_id, payload())
    changed = payload(
        started_at=START + timedelta(hours=1),
        ended_at=START + timedelta(hours=2, minutes=30),
        summary="Rebuilt the mail profile.",
    )

    updated = connector.update_time(ticket_id, entry.id, changed)

    request = sim.requests[-1]
    assert (request.method, request.path) == (
        "PUT",
        f"/api/v1/tickets/{ticket_id}/update_timer_entry",
    )
    assert request.json() == {
        "timer_entry_id": int(entry.id),
        "start_at": "2026-03-02T15:00:00Z",
        "duration_minutes": 90,
        "notes": f"Rebuilt the mail profile.\n\n{MARKER}",
        "user_id": 7,
        "product_id": 41,
    }
    assert updated == RemoteEntry(entry.id, sent=request.json())
    (stored,) = sim.entries()
    assert (stored["summary"], stored["hours"]) == ("Rebuilt the mail profile.", 1.5)
    assert stored["end_time"] == "2026-03-02T16:30:00.000Z"


def test_update_time_reports_a_syncro_that_kept_the_old_end_time(sim, connector, ticket_id):
    entry = connector.add_time(ticket_id, payload())
    sim.sim.update_keeps_end_time = True

    with pytest.raises(PermanentError, match="kept end time"):
        connector.update_time(ticket_id, entry.id, payload(ended_at=START + timedelta(hours=2)))


def test_update_time_of_a_timer_syncro_no_longer_has_is_permanent(sim, connector, ticket_id):
    with pytest.raises(PermanentError) as caught:
        connector.update_time(ticket_id, "424242", payload())

    assert caught.value.status == 404 and not isinstance(caught.value, NotSupported)


def test_delete_time_posts_delete_timer_entry_and_the_timer_is_gone(sim, connector, ticket_id):
    entry = connector.add_time(ticket_id, payload())

    connector.delete_time(ticket_id, entry.id)

    request = sim.requests[-1]
    assert (request.method, request.path) == (
        "POST",
        f"/api/v1/tickets/{ticket_id}/delete_timer_entry",
    )
    assert request.json() == {"timer_entry_id": int(entry.id)}
    assert sim.entries() == []


def test_deleting_a_timer_that_is_already_gone_counts_as_deleted(sim, connector, ticket_id):
    entry = connector.add_time(ticket_id, payload())
    connector.delete_time(ticket_id, entry.id)

    connector.delete_time(ticket_id, entry.id)

    assert sim.statuses[404] == 1
