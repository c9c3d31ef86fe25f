"""Store first, process second: a failure after storing costs the provider nothing,
a failure to store gets a 5xx so the provider retries."""

import pytest
from django.db import DatabaseError
from django.test import Client

from tests.mails import build_mail
from tickets.intake import pipeline, webhooks
from tickets.models import InboundMail, Ticket

from .provider_posts import basic_auth, mailgun_raw_mime, postmark_inbound

pytestmark = pytest.mark.django_db


@pytest.fixture
def http():
    # Answers as the provider would see them, 500s included.
    return Client(raise_request_exception=False)


class IntakeBroke(Exception):
    pass


def test_a_processing_failure_still_answers_2xx_and_keeps_the_mail_failed(
    http, run_jobs, acme, monkeypatch
):
    def broken_decide(inbound, parsed):
        raise IntakeBroke("routing table is on fire")

    monkeypatch.setattr(pipeline, "decide", broken_decide)
    raw = build_mail()
    with run_jobs():
        response = http.post("/inbound/mailgun/", **mailgun_raw_mime(raw).kwargs(basic_auth()))
    assert 200 <= response.status_code < 300
    inbound = InboundMail.objects.get()
    assert inbound.status == "failed"
    assert bytes(inbound.raw) == raw
    assert "Traceback (most recent call last)" in inbound.error
    assert "IntakeBroke: routing table is on fire" in inbound.error
    assert not Ticket.objects.exists()


def test_a_failure_to_store_answers_5xx_so_the_provider_retries(http, run_jobs, acme, monkeypatch):
    def broken_store(raw, **kwargs):
        raise DatabaseError("disk full")

    monkeypatch.setattr(webhooks, "store_raw_mail", broken_store)
    with run_jobs():
        response = http.post(
            "/inbound/postmark/", **postmark_inbound(build_mail()).kwargs(basic_auth())
        )
    assert response.status_code >= 500
    assert not Ticket.objects.exists()


def test_an_unreadable_payload_is_stored_as_failed_and_answered_2xx(http, run_jobs, acme):
    body = b'{"OriginalRecipient": "acme@in.test", "RawEmail": "From: cut off mid-'
    with run_jobs():
        response = http.post(
            "/inbound/postmark/", data=body, content_type="application/json", **basic_auth()
        )
    assert 200 <= response.status_code < 300
    inbound = InboundMail.objects.get()
    assert inbound.provider == "Postmark"
    assert inbound.status == "failed"
    assert bytes(inbound.raw) == body
    assert "The Postmark payload could not be read" in inbound.error


def test_an_unreadable_payload_without_credentials_is_not_stored(http, run_jobs, acme):
    with run_jobs():
        response = http.post(
            "/inbound/postmark/", data=b"{not json", content_type="application/json"
        )
    assert 400 <= response.status_code < 500
    assert InboundMail.objects.count() == 0
