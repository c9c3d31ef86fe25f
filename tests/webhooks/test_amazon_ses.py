"""Amazon SES receipt rules with an SNS action: the mail arrives base64 in an SNS notification."""

import pytest
from django.test import Client

from tests.mails import build_mail
from tickets.models import InboundMail, Ticket

from .provider_posts import LATIN1_8BIT_MAIL, amazon_ses_sns_notification, basic_auth

pytestmark = [
    pytest.mark.django_db,
]

URL = "/inbound/amazon_ses/"


def test_a_notification_of_a_received_mail_opens_a_ticket(client, run_jobs, acme):
    raw = build_mail(subject="Server room is hot")
    with run_jobs():
        response = client.post(URL, **amazon_ses_sns_notification(raw).kwargs(basic_auth()))
    assert response.status_code == 200
    inbound = InboundMail.objects.get()
    assert inbound.provider == "Amazon SES"
    assert inbound.envelope_recipient == "acme@in.test"
    assert (inbound.status, inbound.outcome) == ("processed", "created")
    ticket = Ticket.objects.get()
    assert (ticket.client, ticket.subject) == (acme, "Server room is hot")


def test_it_keeps_the_decoded_bytes_exactly(client, run_jobs, acme):
    raw = LATIN1_8BIT_MAIL
    with run_jobs():
        client.post(URL, **amazon_ses_sns_notification(raw).kwargs(basic_auth()))
    inbound = InboundMail.objects.get()
    assert bytes(inbound.raw) == raw
    assert inbound.raw_size == len(raw)
    assert "café" in Ticket.objects.get().messages.get().text


def test_a_notification_with_the_wrong_sns_message_id_header_is_refused(client, acme):
    post = amazon_ses_sns_notification(build_mail())
    post.headers["HTTP_X_AMZ_SNS_MESSAGE_ID"] = "not-the-message-id"
    response = client.post(URL, **post.kwargs(basic_auth()))
    assert response.status_code == 400
    assert InboundMail.objects.count() == 0


def test_a_notification_without_credentials_is_challenged_for_basic_auth(acme):
    client = Client(raise_request_exception=False)
    response = client.post(URL, **amazon_ses_sns_notification(build_mail()).kwargs())
    assert response.status_code == 401
    assert response["WWW-Authenticate"].startswith("Basic ")
    assert InboundMail.objects.count() == 0
