"""Intake through real Redis and a real `rqworker` process (CI: PostgreSQL + Redis)."""

import os
import subprocess
import sys

import pytest
from django.db import connection

from tests.factories import ClientFactory
from tests.mails import REPO, build_mail
from tests.processes import database_url
from tickets.intake.store import schedule_processing, store_raw_mail
from tickets.models import InboundMail

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(
        connection.vendor != "postgresql", reason="a worker process needs a shared database"
    ),
]


def run_worker() -> subprocess.CompletedProcess:
    env = {**os.environ, "DATABASE_URL": database_url()}
    return subprocess.run(
        [sys.executable, "manage.py", "rqworker", "intake", "--burst"],
        cwd=REPO, env=env, capture_output=True, text=True, timeout=120,
    )  # fmt: skip


def test_a_stored_mail_is_processed_by_a_worker_from_the_intake_queue(redis_queues):
    ClientFactory(slug="acme", address="acme@in.test")
    inbound = store_raw_mail(build_mail(), provider="test", envelope_recipient="acme@in.test")
    schedule_processing(inbound)  # outside a transaction: enqueued at once
    assert redis_queues["intake"].count == 1
    inbound.refresh_from_db()
    assert inbound.status == "received"  # nothing happens until a worker runs

    worker = run_worker()
    assert worker.returncode == 0, worker.stderr

    inbound.refresh_from_db()
    assert (inbound.status, inbound.outcome) == ("processed", "created")
    assert redis_queues["intake"].count == 0


def test_a_job_run_twice_still_makes_one_ticket(redis_queues):
    ClientFactory(slug="acme", address="acme@in.test")
    inbound = store_raw_mail(build_mail(), provider="test", envelope_recipient="acme@in.test")
    schedule_processing(inbound)
    schedule_processing(inbound)  # e.g. a job re-enqueued after a worker died
    assert run_worker().returncode == 0
    assert InboundMail.objects.get().ticket is not None
    from tickets.models import Ticket

    assert Ticket.objects.count() == 1
