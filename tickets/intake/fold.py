"""Stage 5: repeated alerts fold into the one open ticket that has their fingerprint."""

from clients.models import Client
from desklib import alerts
from desklib.mailparse import ParsedMail

from ..models import Ticket
from ..models.ticket import OPEN_STATUSES


def alert_signature(
    parsed: ParsedMail, *, is_alert: bool, rule_pattern: str = ""
) -> alerts.AlertSignature | None:
    """The alert's fingerprint: a rule's pattern, else a preset, else (for alerts) generic.

    A mail that no preset recognises and nothing marks as an alert has none:
    two people asking the same thing are two tickets.
    """
    if rule_pattern:
        signature = alerts.from_rule_pattern(rule_pattern, parsed.from_address, parsed.subject)
        if signature:
            return signature
    signature = alerts.detect_preset(parsed.from_address, parsed.subject, parsed.text)
    if signature:
        return signature
    if is_alert:
        return alerts.generic(parsed.from_address, parsed.subject)
    return None


def open_ticket_for(client: Client, fingerprint: str) -> Ticket | None:
    return (
        Ticket.objects.filter(client=client, fingerprint=fingerprint, status__in=OPEN_STATUSES)
        .order_by("-id")
        .first()
    )
