"""What a helper found by trying to break write-back, each kept as a test: bad answers
from a PSA, our own limit between two requests of one send, edits racing sends."""

import itertools
import threading
import time
from datetime import timedelta

import httpx
import pytest
from django.db import connection as db
from django.utils import timezone
from werkzeug.wrappers import Response

from psasync.connectors.base import RETRY_AFTER_CAP, retry_after_seconds
from psasync.connectors.connectwise import ConnectWiseConnector
from psasync.models import PsaConnection, WriteBack
from psasync.sending import MAX_ATTEMPTS, send_writeback
from psasync.simulator.core import Limits
from psasync.sweeper import requeue_stale_writebacks
from tickets.actions import change_time

pytestmark = pytest.mark.django_db


def outcomes(writeback: WriteBack) -> list[str]:
    return [a.outcome for a in writeback.attempt_log.order_by("started_at", "pk")]


def now_due(writeback: WriteBack) -> None:
    WriteBack.objects.filter(pk=writeback.pk).update(next_attempt_at=timezone.now())


# --- bad answers ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        ("30", 30.0),
        ("-5", 0.0),
        ("999999999999", RETRY_AFTER_CAP),
        ("inf", RETRY_AFTER_CAP),
        ("Fri, 31 Dec 9999 23:59:59 GMT", RETRY_AFTER_CAP),
        ("nan", None),
        ("soon", None),
    ],
)
def test_retry_after_is_read_within_bounds(header, expected):
    response = httpx.Response(429, headers={"Retry-After": header})
    assert retry_after_seconds(response) == expected


def test_a_wild_retry_after_waits_an_hour_not_for_ever(connect, log_time):
    sim, _ = connect("connectwise", limits=Limits(requests=1, per_seconds=60))

    def too_many(retry_after):
        answer = Response("<html>Slow down</html>", status=429, mimetype="text/html")
        answer.headers["Retry-After"] = "999999999999"
        return answer

    sim.sim.too_many_requests = too_many  # the ticket lookup passes; the create gets this
    log_time()
    writeback = WriteBack.objects.get()

    assert send_writeback(writeback.pk) == "retry"

    writeback.refresh_from_db()
    assert writeback.state == "pending"
    assert writeback.next_attempt_at <= timezone.now() + timedelta(seconds=RETRY_AFTER_CAP + 5)


def test_an_entry_id_too_long_to_keep_fails_clearly_instead_of_looping(connect, log_time):
    sim, _ = connect("connectwise")
    long_ids = (int("9" * 70) + i for i in itertools.count())

    def add_entry(**fields):
        with sim.state.lock:
            entry = {"id": next(long_ids), **fields}
            sim.state.entries[entry["id"]] = entry
            return entry

    sim.state.add_entry = add_entry
    log_time()
    writeback = WriteBack.objects.get()

    assert send_writeback(writeback.pk) == "failed"

    writeback.refresh_from_db()
    assert writeback.state == "failed"
    assert "entry id longer than 64 characters" in writeback.last_error
    assert "check it there" in writeback.last_error


def test_a_write_answered_2xx_with_html_is_retried_and_adopted_not_failed(connect, log_time):
    # The entry was stored; a proxy in front of the PSA mangled the answer.
    sim, _ = connect("connectwise")
    real = sim.sim.create_entry

    def html(request, **kwargs):
        real(request, **kwargs)
        return Response("<html>OK</html>", status=200, mimetype="text/html")

    sim.sim.create_entry = html
    log_time()
    writeback = WriteBack.objects.get()
    assert send_writeback(writeback.pk) == "retry"
    sim.sim.create_entry = real
    now_due(writeback)

    assert send_writeback(writeback.pk) == "adopted"

    writeback.refresh_from_db()
    assert len(sim.entries()) == 1
    assert (writeback.state, outcomes(writeback)) == ("sent", ["retry", "adopted"])


def test_a_send_that_kills_its_worker_every_time_ends_failed_not_in_a_loop(connect, log_time):
    connect("connectwise")
    log_time()
    writeback = WriteBack.objects.get()
    WriteBack.objects.filter(pk=writeback.pk).update(
        state="sending",
        attempts=MAX_ATTEMPTS,
        sending_since=timezone.now() - timedelta(hours=1),
    )

    assert requeue_stale_writebacks(stale_seconds=300) == 0

    writeback.refresh_from_db()
    assert writeback.state == "failed"
    assert "given up" in writeback.last_error
    assert outcomes(writeback) == ["failed"]


# --- our limit between two requests of one send ---------------------------------------------


def test_our_limit_after_a_write_left_makes_the_next_attempt_look_first(
    redis_queues, connect, log_time
):
    # Syncro: POST the timer, then PATCH its billable flag. Our limit lets the POST
    # through and turns the PATCH away: the next attempt must find the timer, not post
    # a second one.
    sim, connection = connect("syncro")
    connection.rate_limit, connection.rate_window_seconds = 2, 6
    connection.save()
    log_time(billable=False)  # differs from Syncro's default: a PATCH follows the POST
    writeback = WriteBack.objects.get()

    assert send_writeback(writeback.pk) == "retry"
    assert [r.method for r in sim.requests] == ["GET", "POST"]
    writeback.refresh_from_db()
    assert writeback.attempts == 1
    assert "after a POST had left" in writeback.last_error

    PsaConnection.objects.filter(pk=connection.pk).update(rate_limit=100)  # time passes
    now_due(writeback)
    assert send_writeback(writeback.pk) == "adopted"

    [timer] = sim.entries()
    assert timer["marker"] == writeback.marker
    assert timer["billable"] is False
    assert [r.method for r in sim.requests].count("POST") == 1


# --- edits racing sends (real concurrent connections) ---------------------------------------

concurrent = pytest.mark.skipif(
    db.vendor != "postgresql", reason="row locks between connections need PostgreSQL"
)


def in_thread(target, results: dict, name: str) -> threading.Thread:
    def run():
        try:
            results[name] = target()
        finally:
            db.close()

    thread = threading.Thread(target=run)
    thread.start()
    return thread


@concurrent
@pytest.mark.django_db(transaction=True)
def test_an_edit_committed_while_the_claim_waits_reaches_the_psa(connect, log_time, desk):
    from tickets.signals import time_entry_changed

    sim, _ = connect("connectwise")
    agent = desk[1]
    entry = log_time(summary="Old summary.")
    writeback = WriteBack.objects.get()

    def hold(sender, **kwargs):  # after psasync's receiver: the edit holds the create's lock
        time.sleep(1.5)

    time_entry_changed.connect(hold, dispatch_uid="test.hold")
    try:
        results: dict = {}
        edit = in_thread(
            lambda: change_time(entry, agent.user, summary="New summary."), results, "edit"
        )
        time.sleep(0.5)  # the send's claim now waits for the edit's lock
        send = in_thread(lambda: send_writeback(writeback.pk), results, "send")
        edit.join(), send.join()
    finally:
        time_entry_changed.disconnect(dispatch_uid="test.hold")

    assert results["send"] == "sent"
    [remote] = sim.entries()
    assert remote["summary"] == "New summary."


@concurrent
@pytest.mark.django_db(transaction=True)
def test_a_second_update_waits_for_the_first_so_the_last_values_win(
    connect, log_time, desk, monkeypatch
):
    sim, _ = connect("connectwise")
    agent = desk[1]
    entry = log_time(summary="Original.")
    assert send_writeback(WriteBack.objects.get().pk) == "sent"
    change_time(entry, agent.user, summary="First edit.")
    first = WriteBack.objects.get(operation="update")
    real = ConnectWiseConnector.update_time
    calls = []

    def slow_first(self, *args, **kwargs):  # the first PUT is slow on the wire
        calls.append(1)
        if len(calls) == 1:
            time.sleep(2)
        return real(self, *args, **kwargs)

    monkeypatch.setattr(ConnectWiseConnector, "update_time", slow_first)
    results: dict = {}
    thread = in_thread(lambda: send_writeback(first.pk), results, "first")
    time.sleep(0.7)
    change_time(entry, agent.user, summary="Second edit.")
    second = WriteBack.objects.filter(operation="update").exclude(pk=first.pk).get()

    assert send_writeback(second.pk) == "skipped"  # the first is still sending
    thread.join()
    now_due(second)
    assert send_writeback(second.pk) == "sent"

    assert results["first"] == "sent"
    [remote] = sim.entries()
    assert remote["summary"] == "Second edit."
