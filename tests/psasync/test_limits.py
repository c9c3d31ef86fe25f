"""Our own limits per connection (psasync.limits), shared by every worker through Redis,
and what the PSA's own limit (429 + Retry-After) does to a write-back."""

import time
import uuid
from contextlib import ExitStack
from datetime import timedelta

import pytest
from django.utils import timezone

from psasync import limits
from psasync.limits import Deferred, in_flight_slot, request_gate
from psasync.models import WriteBack
from psasync.sending import send_writeback
from psasync.simulator.core import Faults, Limits

pytestmark = pytest.mark.django_db


@pytest.fixture
def key(redis_queues):
    """A limiter key no other test or run has used (skipped without Redis)."""
    return f"test-{uuid.uuid4().hex}"


# Waits are bounded by a window plus a second, leaving room for a safety margin at the
# window's edge (see the last test: the PSA counts a request later than our gate does).


def test_the_gate_lets_the_allowance_through_then_sleeps_until_the_window_moves(key):
    waits = []

    def sleep(seconds: float) -> None:
        waits.append(seconds)
        time.sleep(seconds)

    gate = request_gate(key, 2, 1, sleep=sleep)
    started = time.monotonic()
    gate(None)
    gate(None)
    assert waits == []
    gate(None)  # the third in a second waits for the first to leave the window
    assert len(waits) == 1
    assert 0.5 < waits[0] <= 2.1
    assert time.monotonic() - started >= 1.0


def test_a_wait_longer_than_max_sleep_defers_instead_of_sleeping(key):
    waits = []
    gate = request_gate(key, 1, 60, sleep=waits.append)
    gate(None)
    with pytest.raises(Deferred) as deferred:
        gate(None)
    assert waits == []
    assert 59 < deferred.value.seconds <= 61
    assert deferred.value.seconds > limits.MAX_SLEEP
    assert "1 per 60 s" in deferred.value.why


def test_sends_turned_away_get_turns_spread_at_the_rate_the_limit_allows(key):
    # Not all back at once when the window moves: one request's share apart, in order.
    request_gate(key, 2, 60)(None)
    request_gate(key, 2, 60)(None)
    delays = []
    for _ in range(3):
        with pytest.raises(Deferred) as deferred:
            request_gate(key, 2, 60)(None)
        delays.append(deferred.value.seconds)
    share = (60 + limits.EDGE_MARGIN) / 2
    assert 59 < delays[0] <= 61  # when the first request leaves the window
    assert delays[1] == pytest.approx(delays[0] + share, abs=0.5)
    assert delays[2] == pytest.approx(delays[0] + 2 * share, abs=0.5)
    with pytest.raises(Deferred) as other:
        request_gate(f"{key}-other", 1, 60)(None), request_gate(f"{key}-other", 1, 60)(None)
    assert other.value.seconds <= 61  # another connection has a line of its own


def test_a_turn_is_never_before_the_time_asked_for_nor_before_the_last_one(key):
    now = time.time()
    assert limits.take_turn(key, earliest=now + 10, every=2) == pytest.approx(now + 10, abs=0.01)
    assert limits.take_turn(key, earliest=now, every=2) == pytest.approx(now + 12, abs=0.01)
    assert limits.take_turn(key, earliest=now + 30, every=2) == pytest.approx(now + 30, abs=0.01)
    assert limits.take_turn(key, earliest=now, every=2) == pytest.approx(now + 32, abs=0.01)


def test_every_gate_on_one_key_shares_the_allowance(key):
    request_gate(key, 1, 60)(None)  # e.g. another worker's request to the same PSA
    with pytest.raises(Deferred):
        request_gate(key, 1, 60)(None)
    request_gate(f"{key}-other", 1, 60)(None)  # another connection has its own allowance


def test_the_slots_admit_that_many_holders_and_defer_the_next(key):
    with ExitStack() as held:
        held.enter_context(in_flight_slot(key, 2))
        held.enter_context(in_flight_slot(key, 2))
        with pytest.raises(Deferred) as deferred, in_flight_slot(key, 2):
            pass
    assert 0.5 <= deferred.value.seconds <= 1.0
    assert "2 request(s) already in flight" in deferred.value.why


def test_a_slot_is_free_again_once_released(key):
    with in_flight_slot(key, 1), pytest.raises(Deferred), in_flight_slot(key, 1):
        pass
    entered = []
    with in_flight_slot(key, 1):
        entered.append(True)
    assert entered


def test_a_slot_held_by_a_dead_worker_frees_when_its_lease_expires(key, monkeypatch):
    monkeypatch.setattr(limits, "SLOT_LEASE", 0.3)
    held = in_flight_slot(key, 1)  # kept referenced: collecting it would release the slot
    held.__enter__()  # taken, and never released: its worker was killed
    with pytest.raises(Deferred), in_flight_slot(key, 1):
        pass
    time.sleep(0.4)
    entered = []
    with in_flight_slot(key, 1):
        entered.append(True)
    assert entered


def test_our_rate_limit_defers_the_send_without_counting_an_attempt(
    redis_queues, connect, log_time
):
    sim, connection = connect("connectwise")
    connection.rate_limit, connection.rate_window_seconds = 1, 60  # the ticket lookup uses it
    connection.save()
    log_time()
    writeback = WriteBack.objects.get()

    assert send_writeback(writeback.pk) == "deferred"

    writeback.refresh_from_db()
    assert (writeback.state, writeback.attempts, writeback.sending_since) == ("pending", 0, None)
    due_in = writeback.next_attempt_at - timezone.now()
    assert timedelta(seconds=50) < due_in <= timedelta(seconds=61)
    assert not writeback.attempt_log.exists()
    assert [r.method for r in sim.requests] == ["GET"]  # the entry itself never left


def test_a_full_connection_defers_the_send_and_it_goes_once_a_slot_frees(
    redis_queues, connect, log_time
):
    sim, connection = connect("connectwise")
    connection.max_concurrent = 1
    connection.save()
    log_time()
    writeback = WriteBack.objects.get()

    with in_flight_slot(connection.limit_key(), 1):  # another worker's request in flight
        assert send_writeback(writeback.pk) == "deferred"
    writeback.refresh_from_db()
    assert (writeback.state, writeback.attempts) == ("pending", 0)
    assert writeback.next_attempt_at <= timezone.now() + timedelta(seconds=1)
    assert sim.requests == []

    assert send_writeback(writeback.pk) == "sent"
    writeback.refresh_from_db()
    assert (writeback.state, writeback.attempts) == ("sent", 1)
    assert [a.outcome for a in writeback.attempt_log.all()] == ["sent"]


def test_a_psa_stricter_than_our_limit_answers_429_and_the_send_waits_its_retry_after(
    connect, log_time
):
    sim, connection = connect("connectwise", limits=Limits(requests=5, per_seconds=60))
    assert connection.rate_limit is None
    assert connection.limits()[0] > 5  # our default lets more through than this PSA takes
    for _ in range(6):
        log_time()
    writebacks = list(WriteBack.objects.order_by("pk"))

    outcomes = [send_writeback(writeback.pk) for writeback in writebacks]

    refused = outcomes.index("retry")
    assert outcomes == ["sent"] * refused + ["retry"] * (len(outcomes) - refused)
    assert len(sim.requests) - sim.statuses[429] == 5  # the minute's allowance, and no more
    assert len(sim.entries()) == refused
    for writeback in writebacks[refused:]:
        writeback.refresh_from_db()
        assert (writeback.state, writeback.last_status) == ("pending", 429)
        # Our backoff alone would be 5 to 10 s; the PSA said about a minute.
        assert writeback.next_attempt_at - timezone.now() > timedelta(seconds=50)
        assert [(a.outcome, a.status) for a in writeback.attempt_log.all()] == [("retry", 429)]


def test_a_connection_at_the_psas_limit_gets_no_429_when_the_psas_latency_varies(
    redis_queues, connect, log_time
):
    # The PSA counts a request when it reaches it, some time after our gate counted it;
    # a slow send followed by a fast one is the worst case at the window's edge.
    sim, connection = connect(
        "connectwise", faults=Faults(latency=0.3), limits=Limits(requests=2, per_seconds=1)
    )
    connection.rate_limit, connection.rate_window_seconds = 2, 1
    connection.save()
    log_time(), log_time()
    first, second = WriteBack.objects.order_by("pk")

    assert send_writeback(first.pk) == "sent"  # a ticket lookup and a post, each 0.3 s late
    sim.set_faults(Faults())
    assert send_writeback(second.pk) == "sent"

    assert sim.statuses[429] == 0
    assert len(sim.entries()) == 2
