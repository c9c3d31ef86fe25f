"""Hostile and malformed input found by an adversarial review, kept as regressions.

The "does not stall" tests use inputs on which the old quadratic code needed hours,
and allow a generous STALL_LIMIT_S: they tell linear from quadratic on any machine,
however slow or busy, without being timing tests of the code's speed.
"""

import json
import time

import pytest
from django.core.management import call_command
from django.test import Client

from tests.intake_helpers import ingest
from tests.mails import build_mail
from tests.webhooks.provider_posts import basic_auth
from tickets.actions import INTAKE_ACTOR, change_status
from tickets.intake.pipeline import process_inbound
from tickets.models import InboundMail, Ticket

pytestmark = pytest.mark.django_db
STALL_LIMIT_S = 30


def mime_with_part(part_headers: bytes, part_body: bytes = b"zz", message_id: bytes = b"<p@x>"):
    return (
        b"From: pat@customer.example\r\nTo: acme@in.test\r\nSubject: report attached\r\n"
        b"Message-ID: " + message_id + b"\r\nMIME-Version: 1.0\r\n"
        b"Content-Type: multipart/mixed; boundary=b\r\n\r\n"
        b"--b\r\nContent-Type: text/plain\r\n\r\nsee attached\r\n"
        b"--b\r\n" + part_headers + b"\r\n\r\n" + part_body + b"\r\n--b--\r\n"
    )


def nagios(type_: str, state: str, message_id: str | None = None) -> bytes:
    return build_mail(
        sender="nagios@noc.example",
        subject=f"** {type_} Service Alert: srv-db01/Disk C: is {state} **",
        body=f"Notification Type: {type_}\n\nService: Disk C:\nHost: srv-db01\nState: {state}\n",
        headers={"Auto-Submitted": "auto-generated"},
        message_id=message_id,
    )


@pytest.fixture
def http():
    return Client(raise_request_exception=False)


# --- A reply to a resolved alert ticket fails forever --------------------------------


def test_a_reply_to_a_resolved_alert_ticket_is_threaded_after_the_alert_fired_again(acme):
    first = ingest(nagios("PROBLEM", "CRITICAL", "<alert-1@noc.example>")).ticket
    change_status(first, "resolved", INTAKE_ACTOR)
    again = ingest(nagios("PROBLEM", "CRITICAL", "<alert-2@noc.example>"))
    assert again.outcome == "created"
    reply = build_mail(
        subject=f"Re: [HD-{first.pk}] disk on srv-db01",
        body="We freed space last week, why is it back?",
        headers={"In-Reply-To": "<alert-1@noc.example>"},
    )
    result = ingest(reply)
    assert result.outcome == "threaded", InboundMail.objects.order_by("-id").first().error[-300:]


# --- A mail the parser cannot survive escapes the failure handling ------------------


def test_a_mail_with_deeply_nested_forwarded_messages_is_processed_not_left_received(acme):
    raw = (
        b"From: pat@customer.example\r\nTo: acme@in.test\r\nSubject: fwd fwd fwd\r\n"
        b"Message-ID: <deep@customer.example>\r\n"
        + b"Content-Type: message/rfc822\r\n\r\n" * 500
        + b"Subject: innermost\r\n\r\nhello\r\n"
    )
    try:
        result = ingest(raw)
    except RecursionError:
        result = None
    inbound = InboundMail.objects.get()
    assert inbound.status != "received", "the mail is neither processed nor shown as failed"
    assert result is not None and result.outcome == "created"


# --- Quadratic regexes: one mail of a few dozen KB stalls intake for everyone --------


def test_a_long_host_line_in_a_body_does_not_stall_intake(acme):
    body = "Host: a" + " " * 1_000_000 + "b\n"  # quadratic: hours
    raw = build_mail(subject="hello", body=body)
    started = time.monotonic()
    result = ingest(raw)
    elapsed = time.monotonic() - started
    assert result.outcome == "created"
    assert elapsed < STALL_LIMIT_S, f"a 1 MB mail took {elapsed:.1f}s to process"


def test_many_unterminated_uuencode_begin_lines_do_not_stall_intake(acme):
    body = "begin 644 a\n" * 200_000  # 2.4 MB; quadratic: hours
    raw = (
        b"From: pat@customer.example\r\nTo: acme@in.test\r\nSubject: hi\r\n"
        b"Message-ID: <uu@customer.example>\r\n\r\n" + body.encode()
    )
    started = time.monotonic()
    result = ingest(raw)
    elapsed = time.monotonic() - started
    assert result.outcome == "created"
    assert elapsed < STALL_LIMIT_S, f"a 2.4 MB mail took {elapsed:.1f}s to process"


def test_a_long_run_of_spaces_in_an_html_only_mail_does_not_stall_intake(acme):
    from email.message import EmailMessage

    msg = EmailMessage()
    msg["From"] = "pat@customer.example"
    msg["To"] = "acme@in.test"
    msg["Subject"] = "newsletter-ish"
    msg["Message-ID"] = "<spaces@customer.example>"
    msg.set_content("<p>" + " " * 2_000_000 + "x</p>", subtype="html")  # quadratic: hours
    started = time.monotonic()
    result = ingest(msg.as_bytes())
    elapsed = time.monotonic() - started
    assert result.outcome == "created"
    assert elapsed < STALL_LIMIT_S, f"a 2 MB HTML mail took {elapsed:.1f}s to process"


def test_an_intake_rule_with_a_catastrophic_regex_cannot_stall_intake(acme):
    from django.core.exceptions import ValidationError

    from clients.models import IntakeRule

    rule = IntakeRule(client=acme, name="Escalate AAA", body_pattern=r"^(a+)+$", set_impact=1)
    try:
        rule.full_clean()
    except ValidationError:
        return  # refused when the SDM saves it: fine
    rule.save()
    started = time.monotonic()
    result = ingest(build_mail(body="a" * 40 + "!"))  # plain re: days
    elapsed = time.monotonic() - started
    assert result.outcome == "created"
    assert elapsed < STALL_LIMIT_S, f"one 41-byte body took {elapsed:.1f}s against one rule"


# --- Input that makes processing fail every time --------------------------------------


def test_a_nul_byte_in_an_attachments_content_type_does_not_fail_the_mail(acme):
    result = ingest(mime_with_part(b"Content-Type: application/x\x00y"))
    assert result.outcome == "created", result.reason
    attachment = result.ticket.messages.get().attachments.get()
    assert "\x00" not in attachment.content_type


def test_a_long_non_ascii_attachment_filename_does_not_fail_the_mail(acme):
    name = b"%E4%B8%AD" * 150  # 150 x U+4E2D: 450 bytes in UTF-8
    part = b"Content-Type: application/pdf\r\nContent-Disposition: attachment; filename*=UTF-8''"
    result = ingest(mime_with_part(part + name + b".pdf"))
    assert result.outcome == "created", result.reason
    assert result.ticket.messages.get().attachments.count() == 1


def test_a_psa_pattern_with_an_optional_group_does_not_fail_mails(acme):
    acme.psa_ticket_pattern = r"Ticket #(\d+)|Case [A-Z]+-\d+"
    acme.full_clean()
    acme.save()
    result = ingest(build_mail(subject="Case ABC-12: printer offline"))
    assert result.outcome == "created", result.reason


# --- Webhooks ------------------------------------------------------------------------


MAIL_TEXT = "From: pat@customer.example\r\nTo: acme@in.test\r\nSubject: hi\r\n\r\nhi\r\n"
LONE_SURROGATE = "\\ud800"  # a JSON escape json.loads turns into an unencodable str


def _ses_post_with_surrogate_recipient() -> dict:
    """An SNS notification of an SES receipt whose recipient holds a lone surrogate escape."""
    from tests.webhooks.provider_posts import amazon_ses_sns_notification

    post = amazon_ses_sns_notification(MAIL_TEXT.encode())
    # The SES event is a JSON string inside the SNS JSON, hence the doubled escapes.
    before = '\\"recipients\\": [\\"acme@in.test\\"]'
    after = '\\"recipients\\": [\\"acme\\\\ud800@in.test\\"]'
    assert before in post.data
    post.data = post.data.replace(before, after)
    kwargs = post.kwargs(basic_auth())
    kwargs["data"] = kwargs["data"].encode()
    return kwargs


@pytest.mark.parametrize(
    "url, body",
    [
        (
            "/inbound/postmark/",
            json.dumps(
                {"MessageID": 5, "OriginalRecipient": "acme@in.test", "RawEmail": MAIL_TEXT}
            ),
        ),
        (
            "/inbound/postmark/",
            json.dumps({"OriginalRecipient": "acme@in.test", "RawEmail": MAIL_TEXT}).replace(
                "acme@", f"acme{LONE_SURROGATE}@", 1
            ),
        ),
        (
            "/inbound/mailjet/",
            json.dumps(
                {
                    "Sender": "pat@customer.example",
                    "Recipient": 5,
                    "Headers": {
                        "From": "pat@customer.example",
                        "To": "acme@in.test",
                        "Subject": "hi",
                    },
                    "Parts": [
                        {"Headers": {"Content-Type": "text/plain"}, "ContentRef": "Text-part"}
                    ],
                    "Text-part": "hi",
                }
            ),
        ),
        (
            "/inbound/amazon_ses/",
            None,  # built in the test: an SNS notification whose SES recipient is a surrogate
        ),
    ],
    ids=[
        "postmark-numeric-MessageID",
        "postmark-surrogate-OriginalRecipient",
        "mailjet-numeric-Recipient",
        "ses-surrogate-recipient",
    ],
)
def test_a_webhook_post_with_odd_metadata_is_stored_and_answered_2xx_not_500(
    http, run_jobs, acme, url, body
):
    if body is None:
        kwargs = _ses_post_with_surrogate_recipient()
    else:
        kwargs = {"data": body.encode(), "content_type": "application/json", **basic_auth()}
    with run_jobs():
        response = http.post(url, **kwargs)
    assert 200 <= response.status_code < 300, response.status_code
    assert InboundMail.objects.count() == 1


def test_with_a_signing_key_a_post_with_an_unverifiable_signature_stores_nothing(
    http, run_jobs, acme, settings
):
    settings.ANYMAIL = {**settings.ANYMAIL, "MAILGUN_WEBHOOK_SIGNING_KEY": "key-review"}
    form = {
        "recipient": "acme@in.test",
        "body-mime": build_mail().decode(),
        "timestamp": "1764558000",
        "token": "t\u00f6ken",
        "signature": "0" * 64,
    }
    with run_jobs():
        response = http.post("/inbound/mailgun/inbound_mime/", data=form, **basic_auth())
    assert response.status_code == 400
    assert not InboundMail.objects.exists()


def test_a_redelivered_mailjet_post_of_a_mail_without_message_id_opens_one_ticket(
    http, run_jobs, acme
):
    payload = json.dumps(
        {
            "Sender": "nas@customer.example",
            "Recipient": "acme@in.test",
            "From": "NAS <nas@customer.example>",
            "Subject": "RAID degraded",
            "Headers": {
                "From": "NAS <nas@customer.example>",
                "To": "acme@in.test",
                "Subject": "RAID degraded",
                "Date": "Tue, 01 Dec 2026 03:00:00 +0000",
            },
            "Parts": [{"Headers": {"Content-Type": "text/plain"}, "ContentRef": "Text-part"}],
            "Text-part": "Disk 2 failed.",
        }
    )
    for _ in range(2):
        with run_jobs():
            response = http.post(
                "/inbound/mailjet/", data=payload, content_type="application/json", **basic_auth()
            )
        assert response.status_code == 200
    assert Ticket.objects.count() == 1


def test_an_ses_notification_for_two_clients_addresses_reaches_both_clients(
    http, run_jobs, acme, globex
):
    from tests.webhooks.provider_posts import amazon_ses_sns_notification

    raw = build_mail(to="acme@in.test, globex@in.test", subject="Vendor outage notice")
    post = amazon_ses_sns_notification(raw)
    notification = json.loads(post.data)
    event = json.loads(notification["Message"])
    event["receipt"]["recipients"] = ["acme@in.test", "globex@in.test"]
    event["mail"]["destination"] = ["acme@in.test", "globex@in.test"]
    notification["Message"] = json.dumps(event)
    post.data = json.dumps(notification)
    with run_jobs():
        response = http.post("/inbound/amazon_ses/", **post.kwargs(basic_auth()))
    assert response.status_code == 200
    assert set(Ticket.objects.values_list("client__slug", flat=True)) == {"acme", "globex"}


# --- Routing and de-duplication --------------------------------------------------------


def test_an_address_in_a_display_name_does_not_route_the_mail_to_that_client(acme, globex):
    raw = build_mail(to="globex@in.test").replace(
        b"To: globex@in.test", b"To: acme@in.test <globex@in.test>"
    )
    assert b"To: acme@in.test <globex@in.test>" in raw
    result = ingest(raw)
    assert result.client != acme, "globex's mail became an Acme ticket"


def test_two_mails_whose_unbracketed_message_ids_share_a_trailing_comment_are_two_tickets(acme):
    def mail(host: str, n: int) -> bytes:
        return (
            b"From: nas@customer.example\r\nTo: acme@in.test\r\n"
            b"Subject: Backup failed on " + host.encode() + b"\r\n"
            b"Message-ID: 20261201." + str(n).encode() + b"@nas.example (added by relay)\r\n"
            b"\r\nThe nightly backup failed.\r\n"
        )

    first, second = mail("srv-a", 1), mail("srv-b", 2)
    outcomes = [ingest(first).outcome, ingest(second).outcome]
    assert outcomes == ["created", "created"]


def test_a_plus_tagged_dedicated_address_does_not_capture_other_tags(acme):
    from clients.models import DedicatedAddress

    address = DedicatedAddress(client=acme, address="desk+acme@in.test")
    address.full_clean()
    address.save()
    result = ingest(build_mail(to="desk+globex@in.test"))
    assert result.client != acme, "mail for desk+globex@ became an Acme ticket"


# --- ingest_eml --------------------------------------------------------------------------


def test_ingest_eml_does_not_silently_skip_a_mail_saved_with_an_mbox_suffix(acme, tmp_path, capsys):
    path = tmp_path / "export.mbox"
    path.write_bytes(build_mail(subject="Exported without a From_ line"))
    call_command("ingest_eml", str(path))
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines() if line.strip()]
    assert InboundMail.objects.count() == 1, "the mail was never stored"
    assert [line["outcome"] for line in lines] == ["created"]


def test_a_sparkpost_batch_with_one_bad_event_still_delivers_the_good_mail(http, run_jobs, acme):
    import base64

    from tests.webhooks.provider_posts import sparkpost_relay

    post = sparkpost_relay(build_mail(subject="Switch stack down"))
    batch = json.loads(post.data)
    bad = {
        "msys": {
            "relay_message": {
                "rcpt_to": "acme@in.test",
                "content": {
                    "email_rfc822": base64.b64encode(b"Subject: cut").decode(),
                    "email_rfc822_is_base64": True,
                },
            }
        }
    }  # no msg_from / protocol
    post.data = json.dumps([*batch, bad])
    with run_jobs():
        response = http.post("/inbound/sparkpost/", **post.kwargs(basic_auth()))
    assert response.status_code == 200 or response.status_code == 202
    for inbound in InboundMail.objects.filter(status="failed"):
        process_inbound(inbound)  # what the SDM's Reprocess action does
    assert Ticket.objects.filter(subject="Switch stack down").exists()


def test_a_recovery_replying_to_a_resolved_alert_does_not_reopen_it(acme):
    first = ingest(nagios("PROBLEM", "CRITICAL", "<alert-1@noc.example>")).ticket
    change_status(first, "resolved", INTAKE_ACTOR)
    recovery = nagios("RECOVERY", "OK", "<alert-2@noc.example>").replace(
        b"Auto-Submitted: auto-generated",
        b"Auto-Submitted: auto-generated\nIn-Reply-To: <alert-1@noc.example>",
    )
    result = ingest(recovery)
    assert result.ticket == first
    first.refresh_from_db()
    assert first.status == "resolved"
