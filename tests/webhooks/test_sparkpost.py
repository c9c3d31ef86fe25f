"""SparkPost's inbound relay webhook: rfc822 mail, base64 in a JSON batch."""

import pytest

from tests.mails import build_mail
from tickets.models import InboundMail, Ticket

from .provider_posts import LATIN1_8BIT_MAIL, basic_auth, sparkpost_relay

pytestmark = pytest.mark.django_db

URL = "/inbound/sparkpost/"


def test_a_relay_message_opens_a_ticket(client, run_jobs, acme):
    raw = build_mail(subject="Scanner won't scan to email")
    with run_jobs():
        response = client.post(URL, **sparkpost_relay(raw).kwargs(basic_auth()))
    assert response.status_code == 200
    inbound = InboundMail.objects.get()
    assert inbound.provider == "SparkPost"
    assert inbound.envelope_recipient == "acme@in.test"
    assert (inbound.status, inbound.outcome) == ("processed", "created")
    ticket = Ticket.objects.get()
    assert (ticket.client, ticket.subject) == (acme, "Scanner won't scan to email")


def test_it_keeps_the_relayed_bytes_exactly(client, run_jobs, acme):
    # CRLF line ends and folded headers, as a mail arrives over SMTP.
    raw = (
        b"From: Pat User <pat@customer.example>\r\nTo: acme@in.test\r\n"
        b"Subject: A subject folded\r\n over two lines\r\n"
        b"Message-ID: <crlf@customer.example>\r\nMIME-Version: 1.0\r\n"
        b"Content-Type: text/plain; charset=us-ascii\r\n\r\nThe body.\r\n"
    )
    with run_jobs():
        client.post(URL, **sparkpost_relay(raw).kwargs(basic_auth()))
    assert bytes(InboundMail.objects.get().raw) == raw


def test_an_eight_bit_latin_1_relay_message_opens_a_ticket(client, run_jobs, acme):
    raw = LATIN1_8BIT_MAIL
    with run_jobs():
        response = client.post(URL, **sparkpost_relay(raw).kwargs(basic_auth()))
    assert response.status_code == 200
    inbound = InboundMail.objects.get()
    assert (inbound.status, inbound.outcome) == ("processed", "created")
    assert bytes(inbound.raw) == raw
