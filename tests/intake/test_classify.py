import pytest

from tests.intake_helpers import ingest
from tests.mails import build_mail
from tickets.models import Message, Ticket

pytestmark = pytest.mark.django_db

AUTO_REPLY_HEADERS = [
    {"Auto-Submitted": "auto-replied"},
    {"X-Autoreply": "yes"},
    {"X-Auto-Response-Suppress": "All"},
    {"Precedence": "bulk"},
    {"Precedence": "junk"},
    {"Precedence": "list"},
]
BOUNCE_HEADERS = [
    {"Return-Path": "<>"},
]


@pytest.mark.parametrize(
    "headers", AUTO_REPLY_HEADERS, ids=lambda h: ":".join(h.items().__iter__().__next__())
)
def test_an_auto_reply_never_opens_a_ticket(acme, headers):
    result = ingest(build_mail(subject="Out of office", headers=headers))
    assert result.outcome == "suppressed"
    assert not Ticket.objects.exists()


@pytest.mark.parametrize("sender", ["MAILER-DAEMON@mx.example", "postmaster@mx.example"])
def test_a_mail_from_mailer_daemon_is_a_bounce(acme, sender):
    result = ingest(build_mail(sender=sender, subject="Undelivered Mail"))
    assert result.outcome == "suppressed"
    assert "bounce" in result.reason or sender.split("@")[0].lower() in result.reason


def test_a_null_return_path_is_a_bounce(acme):
    result = ingest(build_mail(headers={"Return-Path": "<>"}))
    assert (result.outcome, result.reason) == ("suppressed", "Return-Path: <>")


def test_a_delivery_status_report_is_a_bounce(acme):
    raw = (
        b"From: Mail System <system@mx.example>\r\nTo: acme@in.test\r\nSubject: failure\r\n"
        b"Message-ID: <dsn1@mx.example>\r\nMIME-Version: 1.0\r\n"
        b'Content-Type: multipart/report; report-type=delivery-status; boundary="b"\r\n\r\n'
        b"--b\r\nContent-Type: text/plain\r\n\r\nCould not deliver.\r\n"
        b"--b\r\nContent-Type: message/delivery-status\r\n\r\n"
        b"Reporting-MTA: dns; mx.example\r\n\r\n"
        b"Final-Recipient: rfc822; x@y.example\r\nAction: failed\r\nStatus: 5.1.1\r\n"
        b"--b--\r\n"
    )
    result = ingest(raw)
    assert (result.outcome, result.reason) == ("suppressed", "delivery status report")


def test_an_auto_generated_alert_opens_a_ticket(acme):
    raw = build_mail(
        sender="monitor@noc.example",
        subject="CRITICAL: backup job failed on srv1",
        headers={"Auto-Submitted": "auto-generated", "Precedence": "bulk"},
    )
    result = ingest(raw)
    assert result.outcome == "created"
    assert result.ticket.is_alert


def test_an_auto_reply_to_a_ticket_becomes_a_note_without_reopening_it(acme):
    from tickets.actions import INTAKE_ACTOR, change_status

    first = ingest(build_mail(message_id="<orig@customer.example>"))
    change_status(first.ticket, "resolved", INTAKE_ACTOR)
    reply = build_mail(
        subject="Automatic reply: Printer is broken",
        headers={"Auto-Submitted": "auto-replied", "In-Reply-To": "<orig@customer.example>"},
    )
    result = ingest(reply)
    assert (result.outcome, result.ticket) == ("threaded", first.ticket)
    assert Message.objects.filter(ticket=first.ticket, kind="auto_reply").count() == 1
    first.ticket.refresh_from_db()
    assert first.ticket.status == "resolved"


def test_a_bounce_of_our_mail_is_noted_on_its_ticket(acme):
    first = ingest(build_mail(message_id="<ours-out@customer.example>"))
    raw = (
        b"From: MAILER-DAEMON@mx.example\r\nTo: acme@in.test\r\nSubject: Undelivered\r\n"
        b"Message-ID: <dsn2@mx.example>\r\nMIME-Version: 1.0\r\n"
        b'Content-Type: multipart/report; report-type=delivery-status; boundary="b"\r\n\r\n'
        b"--b\r\nContent-Type: text/plain\r\n\r\nUser unknown.\r\n"
        b"--b\r\nContent-Type: text/rfc822-headers\r\n\r\n"
        b"Message-ID: <ours-out@customer.example>\r\nSubject: Printer\r\n"
        b"--b--\r\n"
    )
    result = ingest(raw)
    assert (result.outcome, result.ticket) == ("threaded", first.ticket)
    assert first.ticket.messages.filter(kind="bounce").exists()


def test_a_rule_can_treat_a_bulk_mail_as_an_alert(acme):
    from tests.factories import IntakeRuleFactory

    IntakeRuleFactory(client=acme, sender_pattern="veeam@", treat_as_alert=True)
    raw = build_mail(
        sender="veeam@backup.example", subject="[Failed] Nightly", headers={"Precedence": "bulk"}
    )
    assert ingest(raw).outcome == "created"


def test_a_psa_notification_marked_bulk_is_still_work(acme):
    acme.psa_kind = "connectwise"
    acme.save()
    raw = build_mail(
        sender="help@acme-psa.example",
        subject="Ticket #48213 - Outlook keeps asking for a password",
        headers={"Precedence": "bulk", "X-Auto-Response-Suppress": "All"},
    )
    result = ingest(raw)
    assert result.outcome == "created"
    assert result.ticket.psa_ticket_number == "48213"


def test_an_explicit_auto_reply_to_a_psa_notification_is_still_an_auto_reply(acme):
    acme.psa_kind = "connectwise"
    acme.save()
    raw = build_mail(
        subject="Automatic reply: Ticket #48213 - Outlook",
        headers={"Auto-Submitted": "auto-replied"},
    )
    assert ingest(raw).outcome == "suppressed"


@pytest.mark.parametrize("marker", [{"Precedence": "bulk"}, {"X-Auto-Response-Suppress": "All"}])
def test_a_monitoring_alert_with_a_bulk_marker_is_still_an_alert(acme, marker):
    raw = build_mail(
        sender="nagios@noc.example",
        subject="** PROBLEM Service Alert: srv1/Disk is CRITICAL **",
        body="Notification Type: PROBLEM\nHost: srv1\nService: Disk\n",
        headers=marker,
    )
    result = ingest(raw)
    assert result.outcome == "created"
    assert result.ticket.is_alert
