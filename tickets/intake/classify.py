"""Stage 3: is this a person or a monitor writing, or a machine answering us?"""

import re
from dataclasses import dataclass
from enum import StrEnum

from desklib.headers import message_ids_in
from desklib.mailparse import ParsedMail


class MailClass(StrEnum):
    REGULAR = "regular"
    ALERT = "alert"  # machine-generated and real work (Auto-Submitted: auto-generated)
    AUTO_REPLY = "auto_reply"  # out-of-office and the like: never opens a ticket
    BOUNCE = "bounce"  # delivery failure report: never opens a ticket


@dataclass(frozen=True)
class Classification:
    kind: MailClass
    reason: str = ""
    # True when only a convention (Precedence, X-Auto-Response-Suppress) says so,
    # not a header whose whole meaning is "I am an automatic reply".
    heuristic: bool = False


_BOUNCE_SENDERS = ("mailer-daemon", "postmaster")
_ORIGINAL_IDS = re.compile(r"^(?:Message-ID|In-Reply-To|References)\s*:\s*(.+)$", re.I | re.M)


def classify(parsed: ParsedMail) -> Classification:
    """Classify by the headers RFC 3834 and common practice define, most specific first."""
    if parsed.report_type == "delivery-status" or "message/delivery-status" in parsed.part_types:
        return Classification(MailClass.BOUNCE, "delivery status report")
    if parsed.from_address.split("@", 1)[0] in _BOUNCE_SENDERS:
        return Classification(MailClass.BOUNCE, f"sent by {parsed.from_address}")
    auto_submitted = parsed.header("auto-submitted").split(";", 1)[0].strip().lower()
    if auto_submitted == "auto-replied":
        return Classification(MailClass.AUTO_REPLY, "Auto-Submitted: auto-replied")
    if auto_submitted.startswith("auto-generated"):
        # Monitoring and PSA notifications say this; they are the work we are here for.
        return Classification(MailClass.ALERT, "Auto-Submitted: auto-generated")
    if parsed.header("x-autoreply") or parsed.header("x-autorespond"):
        return Classification(MailClass.AUTO_REPLY, "X-Autoreply")
    if parsed.header("x-auto-response-suppress"):
        return Classification(MailClass.AUTO_REPLY, "X-Auto-Response-Suppress", heuristic=True)
    precedence = parsed.header("precedence").strip().lower()
    if precedence in ("bulk", "junk", "list", "auto_reply"):
        return Classification(MailClass.AUTO_REPLY, f"Precedence: {precedence}", heuristic=True)
    if parsed.header("return-path").strip() == "<>":
        return Classification(MailClass.BOUNCE, "Return-Path: <>")
    return Classification(MailClass.REGULAR)


def returned_message_ids(parsed: ParsedMail) -> list[str]:
    """Message-IDs of the mail a bounce returns, read from its attached original."""
    ids: list[str] = []
    for attachment in parsed.attachments:
        if attachment.content_type in ("message/rfc822", "text/rfc822-headers"):
            head = attachment.content[:65536].decode("utf-8", "replace")
            for value in _ORIGINAL_IDS.findall(head):
                ids.extend(message_ids_in(value))
    return ids
