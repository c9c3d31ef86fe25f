"""A provider that retries (a timeout on its side, a 5xx from us) delivers the same mail
again: one ticket, and the second delivery is recorded as a duplicate of the first."""

import json

import pytest

from clients.models import normalise_address
from tests.factories import ClientFactory
from tests.mails import build_mail, corpus_dir
from tickets.models import InboundMail, Ticket

from .provider_posts import basic_auth, mailgun_raw_mime

pytestmark = pytest.mark.django_db


def deliver(client, run_jobs, url: str, **kwargs):
    with run_jobs():
        response = client.post(url, **kwargs, **basic_auth())
    assert response.status_code == 200
    return response


def assert_second_is_a_duplicate_of_the_first() -> None:
    ticket = Ticket.objects.get()
    first, second = InboundMail.objects.order_by("pk")
    assert (first.outcome, first.ticket) == ("created", ticket)
    assert (second.outcome, second.ticket) == ("duplicate", ticket)
    assert second.reason.startswith(f"first delivered as inbound #{first.pk}")
    assert ticket.messages.count() == 1


@pytest.mark.parametrize(
    "payload_file",
    [
        "postmark-inbound-test-payload-with-raw.json",
        "postmark-inbound-test-payload.json",
    ],
)
def test_the_same_postmark_payload_twice_opens_one_ticket(client, run_jobs, payload_file):
    payload = json.loads((corpus_dir("anymail") / payload_file).read_text())
    ClientFactory(slug="sampleco", address=normalise_address(payload["OriginalRecipient"]))
    body = json.dumps(payload)
    for _ in range(2):
        deliver(client, run_jobs, "/inbound/postmark/", data=body, content_type="application/json")
    assert_second_is_a_duplicate_of_the_first()


def test_the_same_mailgun_post_twice_opens_one_ticket(client, run_jobs, acme):
    post = mailgun_raw_mime(build_mail(message_id="<retry-1@customer.example>"))
    for _ in range(2):
        deliver(client, run_jobs, "/inbound/mailgun/", **post.kwargs())
    assert_second_is_a_duplicate_of_the_first()


def test_the_same_mail_through_two_providers_opens_one_ticket(client, run_jobs, acme):
    # A provider switch-over can deliver one mail through both: the Message-ID decides.
    raw = build_mail(message_id="<switch-over@customer.example>")
    deliver(client, run_jobs, "/inbound/mailgun/", **mailgun_raw_mime(raw).kwargs())
    deliver(
        client,
        run_jobs,
        "/inbound/postmark/",
        data=json.dumps({"OriginalRecipient": "acme@in.test", "RawEmail": raw.decode()}),
        content_type="application/json",
    )
    assert_second_is_a_duplicate_of_the_first()
