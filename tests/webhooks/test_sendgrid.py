"""SendGrid Inbound Parse with "send raw" (the full MIME in the `email` field)."""

import pytest

from tests.mails import build_mail
from tickets.models import InboundMail, Ticket

from .provider_posts import basic_auth, sendgrid_send_raw

pytestmark = [
    pytest.mark.django_db,
    # anymail warns on every SendGrid view that it no longer supports SendGrid officially.
    pytest.mark.filterwarnings("ignore::anymail.exceptions.AnymailNotSupportedWarning"),
]

URL = "/inbound/sendgrid/"


def test_a_send_raw_post_opens_a_ticket(client, run_jobs, acme):
    raw = build_mail(subject="Outlook keeps asking for a password")
    with run_jobs():
        response = client.post(URL, **sendgrid_send_raw(raw).kwargs(basic_auth()))
    assert response.status_code == 200
    inbound = InboundMail.objects.get()
    assert inbound.provider == "SendGrid"
    assert bytes(inbound.raw) == raw
    assert (inbound.status, inbound.outcome) == ("processed", "created")
    ticket = Ticket.objects.get()
    assert (ticket.client, ticket.subject) == (acme, "Outlook keeps asking for a password")


def test_the_envelope_to_is_the_envelope_recipient(client, run_jobs, acme, globex):
    raw = build_mail(to="globex@in.test")
    with run_jobs():
        client.post(URL, **sendgrid_send_raw(raw, to="acme@in.test").kwargs(basic_auth()))
    assert InboundMail.objects.get().envelope_recipient == "acme@in.test"
    assert Ticket.objects.get().client == acme


def test_a_post_with_neither_raw_nor_parsed_fields_is_kept_as_failed(client, run_jobs, acme):
    post = sendgrid_send_raw(build_mail())
    del post.data["email"]
    with run_jobs():
        response = client.post(URL, **post.kwargs(basic_auth()))
    assert response.status_code == 202
    inbound = InboundMail.objects.get()
    assert inbound.status == "failed"
    assert b'name="envelope"' in bytes(inbound.raw)
    assert not Ticket.objects.exists()
