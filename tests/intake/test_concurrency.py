"""Races between workers, on real PostgreSQL connections (one per thread)."""

import threading
from concurrent.futures import ThreadPoolExecutor

import pytest
from django.db import connection, connections

from tests.factories import ClientFactory
from tests.mails import build_mail
from tickets.intake.pipeline import process_inbound
from tickets.intake.store import store_raw_mail
from tickets.models import InboundMail, Ticket

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(
        connection.vendor != "postgresql", reason="needs PostgreSQL (CI sets DATABASE_URL)"
    ),
]


def race(raws: list[bytes]) -> list[str]:
    """Process each stored mail in its own thread, all released at the same moment."""
    inbounds = [
        store_raw_mail(raw, provider="test", envelope_recipient="acme@in.test") for raw in raws
    ]
    barrier = threading.Barrier(len(inbounds))

    def work(inbound: InboundMail) -> str:
        try:
            barrier.wait()
            return process_inbound(inbound).outcome
        finally:
            connections.close_all()

    with ThreadPoolExecutor(max_workers=len(inbounds)) as pool:
        return list(pool.map(work, inbounds))


def test_concurrent_deliveries_of_one_mail_make_one_ticket():
    ClientFactory(slug="acme", address="acme@in.test")
    for n in range(10):
        raw = build_mail(message_id=f"<race-{n}@customer.example>")
        outcomes = race([raw] * 4)
        assert sorted(outcomes) == ["created", "duplicate", "duplicate", "duplicate"], outcomes
    assert Ticket.objects.count() == 10
    assert InboundMail.objects.filter(is_primary=True).count() == 10


def test_concurrent_repeats_of_one_alert_fold_into_one_ticket():
    ClientFactory(slug="acme", address="acme@in.test")
    raws = [
        build_mail(
            sender="nagios@noc.example",
            subject="** PROBLEM Service Alert: srv1/Disk is CRITICAL **",
            body="Notification Type: PROBLEM\nHost: srv1\nService: Disk\n",
        )
        for _ in range(6)
    ]
    outcomes = race(raws)
    assert sorted(outcomes) == ["created"] + ["folded"] * 5, outcomes
    ticket = Ticket.objects.get()
    assert ticket.occurrence_count == 6
    assert ticket.messages.count() == 6
