"""Time logged while Redis is unreachable is kept as a pending write-back; once Redis is
back, the sweeper queues it and a worker sends it, once.

Transactional tests: the outbox queues the send once the entry's transaction really
commits, outside any atomic block, as in production (django-rq would otherwise hold
the job until the test's own transaction commits, which it never does).
"""

import logging
from datetime import timedelta
from types import SimpleNamespace

import pytest
from django.utils import timezone
from redis.exceptions import ConnectionError as RedisConnectionError

from desklib.jobs import enqueue
from psasync.models import WriteBack
from psasync.sweeper import requeue_stale_writebacks
from tickets.forms import LOCAL_INPUT
from tickets.models import TimeEntry

pytestmark = pytest.mark.django_db(transaction=True)

NOWHERE = "redis://127.0.0.1:1/0"  # a port where nothing listens


@pytest.fixture
def outage(settings, redis_queues):
    """Every Redis we use (the queues and the cache) unreachable until `outage.end()`."""
    queues, caches = settings.RQ_QUEUES, settings.CACHES
    settings.RQ_QUEUES = {name: {**config, "URL": NOWHERE} for name, config in queues.items()}
    settings.CACHES = {"default": {**caches["default"], "LOCATION": NOWHERE}}
    with pytest.raises(RedisConnectionError):
        enqueue("psa", print, "probe")  # it really is unreachable for the outbox

    def end() -> None:
        settings.RQ_QUEUES, settings.CACHES = queues, caches

    return SimpleNamespace(end=end)


def log_time_through_the_form(client, agent, ticket):
    client.force_login(agent.user)
    now = timezone.localtime().replace(second=0, microsecond=0)
    data = {
        "started_at": (now - timedelta(minutes=45)).strftime(LOCAL_INPUT),
        "ended_at": (now - timedelta(minutes=15)).strftime(LOCAL_INPUT),
        "summary": "Cleared the print spooler.",
        "private_notes": "",
        "billable": "on",
        "work_type": "remote",
    }
    return client.post(f"/desk/tickets/{ticket.pk}/time/", data)


def test_time_logged_while_redis_is_down_is_kept_and_sent_once_redis_is_back(
    outage, redis_queues, connect, desk, client, caplog, run_jobs
):
    sim, _ = connect("connectwise")
    _, agent, ticket = desk
    with caplog.at_level(logging.ERROR):
        response = log_time_through_the_form(client, agent, ticket)

    assert response.status_code == 302  # the agent's time is recorded
    entry = TimeEntry.objects.get()
    writeback = WriteBack.objects.get()
    assert (writeback.entry, writeback.state, writeback.attempts) == (entry, "pending", 0)
    assert f"could not queue write-back {writeback.pk}" in caplog.text
    assert sim.requests == []

    outage.end()  # nothing was queued meanwhile
    assert redis_queues["psa"].count == 0
    with run_jobs():
        assert requeue_stale_writebacks(grace_seconds=0) == 1

    writeback.refresh_from_db()
    [remote] = sim.entries()
    assert (writeback.state, writeback.remote_id) == ("sent", str(remote["id"]))
    assert remote["marker"] == writeback.marker


def test_a_sweep_while_redis_is_still_down_loses_nothing(
    outage, redis_queues, connect, log_time, caplog, run_jobs
):
    sim, _ = connect("connectwise")
    with caplog.at_level(logging.ERROR):
        log_time()
        assert requeue_stale_writebacks(grace_seconds=0) == 0
    assert "could not queue write-back" in caplog.text
    assert "next sweep" in caplog.text
    assert WriteBack.objects.get().state == "pending"

    outage.end()
    with run_jobs():
        assert requeue_stale_writebacks(grace_seconds=0) == 1
    assert WriteBack.objects.get().state == "sent"
    assert len(sim.entries()) == 1
