"""Postmark's inbound webhook, fed Postmark's own sample payloads from the shared corpus."""

import base64
import json
from email import message_from_bytes, policy

import pytest

from clients.models import normalise_address
from tests.factories import ClientFactory
from tests.mails import corpus_dir
from tickets.models import InboundMail, Ticket

from .provider_posts import basic_auth

pytestmark = pytest.mark.django_db

URL = "/inbound/postmark/"
WITH_RAW = "postmark-inbound-test-payload-with-raw.json"
WITHOUT_RAW = "postmark-inbound-test-payload.json"


def load(name: str) -> dict:
    return json.loads((corpus_dir("anymail") / name).read_text())


@pytest.fixture(params=[WITH_RAW, WITHOUT_RAW])
def payload(request) -> dict:
    return load(request.param)


def client_for_recipient_of(payload: dict):
    """A client whose dedicated address is the one the sample was delivered to
    (mailbox+SampleHash@inbound.postmarkapp.com routes like mailbox@...)."""
    return ClientFactory(slug="sampleco", address=normalise_address(payload["OriginalRecipient"]))


def post_payload(client, payload: dict):
    return client.post(
        URL, data=json.dumps(payload), content_type="application/json", **basic_auth()
    )


def test_it_opens_a_ticket_for_the_client_the_payload_was_delivered_to(
    client, run_jobs, payload, acme
):
    recipient_client = client_for_recipient_of(payload)
    with run_jobs():
        response = post_payload(client, payload)
    assert response.status_code == 200
    inbound = InboundMail.objects.get()
    assert inbound.provider == "Postmark"
    assert inbound.envelope_recipient == payload["OriginalRecipient"]
    assert inbound.provider_event_id == payload["MessageID"]
    assert (inbound.status, inbound.outcome) == ("processed", "created")
    ticket = Ticket.objects.get()
    assert inbound.ticket == ticket
    assert ticket.client == recipient_client
    assert ticket.subject == payload["Subject"]
    assert ticket.requester_email == payload["FromFull"]["Email"]
    assert payload["TextBody"] in ticket.messages.get().text


def test_a_payload_for_no_dedicated_address_is_stored_and_left_unrouted(
    client, run_jobs, payload, acme
):
    with run_jobs():
        response = post_payload(client, payload)
    assert response.status_code == 200
    inbound = InboundMail.objects.get()
    assert (inbound.status, inbound.outcome) == ("processed", "unrouted")
    assert inbound.ticket is None
    assert inbound.raw_size > 0
    assert not Ticket.objects.exists()


def test_it_stores_the_raw_email_byte_for_byte(client, run_jobs, acme):
    payload = load(WITH_RAW)
    with run_jobs():
        post_payload(client, payload)
    inbound = InboundMail.objects.get()
    assert bytes(inbound.raw) == payload["RawEmail"].encode("utf-8")
    assert inbound.raw_size == len(payload["RawEmail"].encode("utf-8"))


def test_without_raw_email_it_stores_a_mail_rebuilt_from_the_fields(client, run_jobs, acme):
    payload = load(WITHOUT_RAW)
    with run_jobs():
        post_payload(client, payload)
    stored = message_from_bytes(bytes(InboundMail.objects.get().raw), policy=policy.default)
    assert stored["Subject"] == payload["Subject"]
    assert stored["From"].addresses[0].addr_spec == payload["FromFull"]["Email"]
    assert stored["To"].addresses[0].addr_spec == payload["ToFull"][0]["Email"]
    assert stored.get_body(("plain",)).get_content().strip() == payload["TextBody"]
    [attachment] = stored.iter_attachments()
    assert attachment.get_filename() == payload["Attachments"][0]["Name"]
    assert attachment.get_payload(decode=True) == base64.b64decode(
        payload["Attachments"][0]["Data"]
    )


def test_the_ticket_keeps_the_payload_attachment_when_there_is_no_raw_email(client, run_jobs):
    payload = load(WITHOUT_RAW)
    client_for_recipient_of(payload)
    with run_jobs():
        post_payload(client, payload)
    [attachment] = Ticket.objects.get().messages.get().attachments.all()
    assert attachment.filename == "test.txt"
    assert attachment.size == payload["Attachments"][0]["ContentLength"]
