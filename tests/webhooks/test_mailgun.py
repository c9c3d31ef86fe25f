"""Mailgun's inbound route, forward() with raw MIME, to /inbound/mailgun/ (and to the
inbound_mime/ URL under it: Mailgun sends body-mime only to a URL ending in "mime")."""

import pytest

from tests.mails import build_mail
from tickets.models import InboundMail, Ticket

from .provider_posts import LATIN1_8BIT_MAIL, basic_auth, mailgun_raw_mime, mailgun_signature

pytestmark = pytest.mark.django_db

URL = "/inbound/mailgun/"
SIGNING_KEY = "key-3ax6xnjp29jd6fds4gc373sgvjxteol0"


@pytest.fixture
def signing_key(settings):
    settings.ANYMAIL = {**settings.ANYMAIL, "MAILGUN_WEBHOOK_SIGNING_KEY": SIGNING_KEY}
    return SIGNING_KEY


@pytest.mark.parametrize("url", [URL, "/inbound/mailgun/inbound_mime/"])
def test_a_raw_mime_post_opens_a_ticket(client, run_jobs, acme, url):
    raw = build_mail(subject="VPN drops every hour")
    with run_jobs():
        response = client.post(url, **mailgun_raw_mime(raw).kwargs(basic_auth()))
    assert response.status_code == 200
    inbound = InboundMail.objects.get()
    assert inbound.provider == "Mailgun"
    assert inbound.envelope_recipient == "acme@in.test"
    assert bytes(inbound.raw) == raw
    assert (inbound.status, inbound.outcome) == ("processed", "created")
    ticket = Ticket.objects.get()
    assert (ticket.client, ticket.subject) == (acme, "VPN drops every hour")
    assert inbound.ticket == ticket


def test_the_envelope_recipient_routes_over_the_headers(client, run_jobs, acme, globex):
    raw = build_mail(to="globex@in.test")
    with run_jobs():
        client.post(URL, **mailgun_raw_mime(raw, recipient="acme@in.test").kwargs(basic_auth()))
    assert Ticket.objects.get().client == acme


def test_the_token_is_kept_as_the_provider_event_id(client, run_jobs, acme):
    post = mailgun_raw_mime(build_mail(), token="a1b2c3d4e5f6")
    with run_jobs():
        client.post(URL, **post.kwargs(basic_auth()))
    assert InboundMail.objects.get().provider_event_id == "a1b2c3d4e5f6"


def test_with_a_signing_key_a_bad_signature_is_refused_and_nothing_stored(
    client, run_jobs, acme, signing_key
):
    post = mailgun_raw_mime(build_mail(), signing_key="someone-elses-key")
    with run_jobs():
        response = client.post(URL, **post.kwargs(basic_auth()))
    assert response.status_code == 400
    assert InboundMail.objects.count() == 0
    assert not Ticket.objects.exists()


def test_with_a_signing_key_a_missing_signature_is_refused(client, run_jobs, acme, signing_key):
    post = mailgun_raw_mime(build_mail(), signing_key=signing_key)
    del post.data["signature"]
    with run_jobs():
        response = client.post(URL, **post.kwargs(basic_auth()))
    assert response.status_code == 400
    assert InboundMail.objects.count() == 0


def test_with_a_signing_key_a_correct_signature_is_accepted(client, run_jobs, acme, signing_key):
    post = mailgun_raw_mime(build_mail(), timestamp="1764558000", token="f00dfeed" * 6)
    post.data["signature"] = mailgun_signature(signing_key, "1764558000", "f00dfeed" * 6)
    with run_jobs():
        response = client.post(URL, **post.kwargs(basic_auth()))
    assert response.status_code == 200
    assert InboundMail.objects.get().outcome == "created"
    assert Ticket.objects.get().client == acme


def test_with_a_signing_key_the_webhook_secret_is_still_required(
    client, run_jobs, acme, signing_key
):
    post = mailgun_raw_mime(build_mail(), signing_key=signing_key)
    with run_jobs():
        response = client.post(URL, **post.kwargs())
    assert response.status_code == 401  # challenged for the secret
    assert InboundMail.objects.count() == 0


def test_without_a_signing_key_no_signature_is_needed(client, run_jobs, acme, settings):
    settings.ANYMAIL = {
        k: v for k, v in settings.ANYMAIL.items() if k != "MAILGUN_WEBHOOK_SIGNING_KEY"
    }
    post = mailgun_raw_mime(build_mail())
    del post.data["signature"]
    with run_jobs():
        response = client.post(URL, **post.kwargs(basic_auth()))
    assert response.status_code == 200
    assert InboundMail.objects.get().outcome == "created"


def multipart_form(fields: dict[str, bytes], boundary: str = "mailgun-form-boundary") -> bytes:
    """A multipart/form-data body whose field values are sent as the bytes given."""
    parts = [
        b'--%s\r\nContent-Disposition: form-data; name="%s"\r\n\r\n%s\r\n'
        % (boundary.encode(), name.encode(), value)
        for name, value in fields.items()
    ]
    return b"".join(parts) + b"--%s--\r\n" % boundary.encode()


def test_it_keeps_the_bytes_of_an_eight_bit_latin_1_mail_exactly(client, run_jobs, acme):
    raw = LATIN1_8BIT_MAIL
    post = mailgun_raw_mime(b"")
    fields = {name: value.encode() for name, value in post.data.items()}
    fields["body-mime"] = raw
    with run_jobs():
        response = client.post(
            URL,
            data=multipart_form(fields),
            content_type="multipart/form-data; boundary=mailgun-form-boundary",
            **basic_auth(),
        )
    assert response.status_code == 200
    inbound = InboundMail.objects.get()
    assert bytes(inbound.raw) == raw
    assert "café" in Ticket.objects.get().messages.get().text


def test_a_urlencoded_post_keeps_the_mail_byte_for_byte(client, run_jobs, acme):
    # Mailgun posts application/x-www-form-urlencoded when the mail has no attachments.
    from urllib.parse import quote_from_bytes

    raw = LATIN1_8BIT_MAIL
    fields = {"recipient": b"acme@in.test", "timestamp": b"1764558000", "token": b"t" * 50,
              "signature": b"x", "body-mime": raw}  # fmt: skip
    body = "&".join(f"{k}={quote_from_bytes(v)}" for k, v in fields.items())
    with run_jobs():
        response = client.post(
            URL, data=body, content_type="application/x-www-form-urlencoded", **basic_auth()
        )
    assert response.status_code == 200
    inbound = InboundMail.objects.get()
    assert bytes(inbound.raw) == raw
    assert inbound.outcome == "created"
    assert Ticket.objects.get().subject != "(no subject)"
