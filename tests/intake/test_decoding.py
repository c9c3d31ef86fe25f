"""Mails that lie about their charsets, dates and structure still open a readable ticket,
and the bytes as received are kept."""

import hashlib
from dataclasses import dataclass
from datetime import UTC, datetime

import pytest

from tests.intake_helpers import ingest
from tests.mails import build_mail, data_mail
from tickets.models import Attachment, InboundMail, Message, Ticket

TNEF_SIGNATURE = b"\x78\x9f\x3e\x22"
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


@dataclass
class Ingested:
    ticket: Ticket
    message: Message
    inbound: InboundMail


def ingest_file(name: str) -> Ingested:
    """Ingest a mail from tests/data/mail; it must open a ticket and keep its raw bytes."""
    raw = data_mail(name)
    result = ingest(raw)
    assert result.outcome == "created", result.reason
    inbound = InboundMail.objects.get(ticket=result.ticket)
    assert bytes(inbound.raw) == raw
    return Ingested(result.ticket, inbound.message, inbound)


def attachment_bytes(attachment: Attachment) -> bytes:
    with attachment.file.open("rb") as f:
        return f.read()


def text_fields(instance) -> dict[str, str]:
    """Every text a row stores, a file field's stored name included."""
    values = {
        field.name: getattr(instance, field.attname) for field in instance._meta.concrete_fields
    }
    return {
        name: getattr(value, "name", value)
        for name, value in values.items()
        if isinstance(getattr(value, "name", value), str)
    }


def test_a_latin1_label_on_windows_1252_bytes_keeps_the_euro_sign_dash_and_quotes(acme):
    got = ingest_file("latin1_label_windows1252_bytes.eml")
    assert "im Angebot steht € 1.249,00 pro Gerät – gilt das inkl. der" in got.message.text
    assert "“Next Business Day” Garantie?" in got.message.text
    assert got.ticket.description == got.message.text
    assert got.ticket.requester_name == "Sabine Krüger"


def test_a_usable_date_is_kept_as_the_time_the_mail_was_sent(acme):
    got = ingest_file("latin1_label_windows1252_bytes.eml")
    assert got.message.sent_at == datetime(2026, 12, 1, 8, 12, 44, tzinfo=UTC)


def test_an_unknown_8bit_body_holding_utf8_reads_as_utf8(acme):
    got = ingest_file("unknown_8bit_utf8_bytes.eml")
    assert (
        "bitte für Frau Schröder ab Montag einen Zugang einrichten – Büro 2.14" in got.message.text
    )
    assert got.message.text.endswith("Danke, Jörg")


def test_an_unknown_charset_label_on_utf8_bytes_reads_as_utf8(acme):
    got = ingest_file("unknown_charset_label_utf8_bytes.eml")
    assert "Demandeur : Hélène Moreau" in got.message.text
    assert "ne répond plus depuis ce matin — merci de vérifier." in got.message.text


def test_a_utf8_character_split_across_encoded_words_comes_out_whole(acme):
    got = ingest_file("rfc2047_split_utf8_subject.eml")
    subject = "Störung: Drucker im 2. OG – bitte prüfen"
    assert (got.ticket.subject, got.message.subject, got.inbound.subject) == (subject,) * 3


def test_an_rfc2231_filename_with_raw_bytes_keeps_its_attachment(acme):
    got = ingest_file("rfc2231_filename_raw_8bit.eml")
    (attachment,) = got.message.attachments.all()
    assert attachment.content_type == "application/pdf"
    assert attachment_bytes(attachment).startswith(b"%PDF-1.4")
    assert attachment.filename.endswith(".pdf")


def test_an_rfc2231_filename_with_raw_bytes_is_readable(acme):
    got = ingest_file("rfc2231_filename_raw_8bit.eml")
    (attachment,) = got.message.attachments.all()
    assert attachment.filename == "Angebot_Serverübersicht_März.pdf"


def test_nul_bytes_never_reach_the_ticket_message_or_attachments(acme):
    got = ingest_file("nul_bytes.eml")
    rows = [got.ticket, got.message, got.inbound, *got.message.attachments.all()]
    assert len(rows) == 4
    for row in rows:
        for name, value in text_fields(row).items():
            assert "\x00" not in value, f"{type(row).__name__}.{name}"
    assert got.ticket.subject == "Scheduled task report SRV-FS01"
    assert got.message.from_name == "Task Scheduler"
    assert got.message.text.startswith("Task: Nightly robocopy\nResult: 0x1\n")
    assert got.message.attachments.get().filename == "robocopy.log"


@pytest.mark.parametrize(
    "name",
    ["missing_date.eml", "garbage_date.eml", "overlong_date.eml", "future_date.eml"],
)
def test_a_missing_or_unusable_date_falls_back_to_the_receive_time(acme, name):
    got = ingest_file(name)
    assert got.message.sent_at == got.inbound.received_at
    assert got.ticket.last_occurrence_at == got.inbound.received_at


def test_a_mail_without_subject_gets_the_no_subject_placeholder(acme):
    got = ingest_file("missing_subject.eml")
    assert (got.ticket.subject, got.message.subject) == ("(no subject)", "(no subject)")
    assert got.message.text.startswith("Hi, Outlook keeps asking for my password")


def test_an_html_only_mail_is_sanitised_and_gets_its_text_from_the_html(acme):
    got = ingest_file("html_only_script.eml")
    html = got.message.html.lower()
    for unsafe in ("<script", "onclick", "onload", "javascript:", "document.cookie"):
        assert unsafe not in html
    assert 'href="https://portal.harbourlaw.example/requests/4411"' in html
    assert "Laptop will not connect to the VPN since this morning." in got.message.html
    assert "Requester: Dana Price" in got.message.text
    assert "Laptop will not connect to the VPN since this morning." in got.message.text
    assert "document.cookie" not in got.message.text
    assert got.ticket.description == got.message.text


def test_a_forwarded_mail_is_kept_whole_as_an_eml_attachment(acme):
    got = ingest_file("forwarded_rfc822.eml")
    assert got.message.text == "Is this phishing? I have not clicked anything."
    (attachment,) = got.message.attachments.all()
    assert attachment.content_type == "message/rfc822"
    assert attachment.filename.endswith(".eml")
    assert "your mailbox is full" in attachment.filename
    content = attachment_bytes(attachment)
    assert b"Subject: Action required: your mailbox is full" in content
    assert b"Your mailbox is 99% full." in content


def test_a_tnef_winmail_dat_is_kept_as_an_attachment(acme):
    got = ingest_file("winmail_tnef.eml")
    assert got.message.text == "Passt Donnerstag 18 Uhr fuer die Serverwartung?"
    (attachment,) = got.message.attachments.all()
    content = attachment_bytes(attachment)
    assert (attachment.filename, attachment.content_type) == ("winmail.dat", "application/ms-tnef")
    assert content.startswith(TNEF_SIGNATURE)
    assert attachment.size == len(content)
    assert attachment.sha256 == hashlib.sha256(content).hexdigest()


def test_an_inline_image_keeps_its_content_id_for_the_html_to_reference(acme):
    got = ingest_file("inline_image_cid.eml")
    (attachment,) = got.message.attachments.all()
    assert attachment.content_id == "image001.png@01DB4A2C.3F5E6A10"
    assert attachment.inline is True
    assert attachment.content_type == "image/png"
    assert attachment_bytes(attachment).startswith(PNG_SIGNATURE)
    assert 'src="cid:image001.png@01DB4A2C.3F5E6A10"' in got.message.html


def test_raw_utf8_in_the_subject_and_sender_name_is_decoded(acme):
    got = ingest_file("raw_utf8_subject.eml")
    assert got.ticket.subject == "Drucker im Büro 2 – Papierstau"
    assert got.inbound.subject == "Drucker im Büro 2 – Papierstau"
    assert got.ticket.requester_name == "Jürgen Müller"
    assert got.message.text == "Papierstau in Fach 2, Klappe lässt sich nicht öffnen."


def test_an_iso_2022_jp_mail_with_a_nec_circled_number_is_decoded(acme):
    got = ingest_file("iso2022jp_body.eml")
    assert got.ticket.subject == "プロジェクター故障"
    assert got.message.text == (
        "お世話になっております。\n会議室①のプロジェクターが映りません。\n確認をお願いします。"
    )


def test_a_utf7_subject_with_a_lone_surrogate_is_processed_not_stuck(acme):
    # UTF-7 can encode half a surrogate pair; no database driver can store that.
    raw = build_mail(subject="placeholder").replace(
        b"Subject: placeholder", b"Subject: =?utf-7?Q?+2AA-?= disk alert"
    )
    result = ingest(raw)
    assert result.outcome == "created"
    assert result.ticket.subject == "\ufffd disk alert"


def test_decoding_workarounds_are_shown_to_the_sdm(acme):
    ingest(data_mail("missing_date.eml"))
    assert "[decoding: missing or unreadable Date" in InboundMail.objects.get().reason
