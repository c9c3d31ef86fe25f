"""Mail becoming thread entries: new tickets, replies, repeated alerts."""

from dataclasses import dataclass

from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.db import transaction
from django.utils import timezone

from clients.models import Client
from desklib.alerts import AlertSignature
from desklib.jobs import enqueue
from desklib.mailparse import ParsedMail

from .. import sla
from ..models import (
    AlertState,
    Attachment,
    InboundMail,
    Message,
    MessageKind,
    Priority,
    Skill,
    Ticket,
    TicketStatus,
    priority_for,
)
from ..models.message import attachment_path
from ..notify import notify_sdms
from .assignment import auto_assign, client_assigns_automatically
from .base import INTAKE_ACTOR, Actor, record_event
from .status import apply_status


def _store_attachments(message: Message, parsed: ParsedMail) -> None:
    rows = []
    for part in parsed.attachments:
        row = Attachment(
            message=message,
            filename=part.filename[:200],
            content_type=part.content_type[:100],
            size=len(part.content),
            sha256=Attachment.digest(part.content),
            content_id=part.content_id[:255],
            inline=part.inline,
        )
        path = attachment_path(row, row.filename)
        # Content-addressed, so a reprocessed mail reuses the file it stored before.
        row.file.name = (
            path
            if default_storage.exists(path)
            else default_storage.save(path, ContentFile(part.content))
        )
        rows.append(row)
    Attachment.objects.bulk_create(rows)


def record_message(
    ticket: Ticket, parsed: ParsedMail, inbound: InboundMail | None, kind: str
) -> Message:
    """Add one mail to a ticket's thread, with its attachments."""
    message = Message.objects.create(
        ticket=ticket,
        client_id=ticket.client_id,
        inbound=inbound,
        kind=kind,
        message_id=parsed.message_id,
        in_reply_to=parsed.in_reply_to[0] if parsed.in_reply_to else "",
        references=" ".join(parsed.references),
        from_address=parsed.from_address,
        from_name=parsed.from_name,
        to_addresses=", ".join(parsed.to),
        cc_addresses=", ".join(parsed.cc),
        sent_at=parsed.date or timezone.now(),
        subject=parsed.subject,
        text=parsed.text,
        html=parsed.html,
    )
    if parsed.attachments:
        _store_attachments(message, parsed)
    return message


@dataclass
class NewTicketFields:
    impact: int | None = None
    urgency: int | None = None
    category: str = ""
    psa_ticket_number: str = ""
    outside_coverage: bool = False
    is_alert: bool = False
    fingerprint: str = ""


def create_ticket_from_mail(
    client: Client,
    parsed: ParsedMail,
    inbound: InboundMail | None,
    fields: NewTicketFields,
    kind: str = MessageKind.MAIL,
    actor: Actor = INTAKE_ACTOR,
) -> Ticket:
    """Open a ticket for a mail and put the mail first in its thread."""
    with transaction.atomic(savepoint=False):
        ticket = Ticket(
            client=client,
            subject=parsed.subject,
            description=parsed.text,
            requester_email=parsed.from_address,
            requester_name=parsed.from_name,
            psa_ticket_number=fields.psa_ticket_number,
            outside_coverage=fields.outside_coverage,
            category=fields.category,
            is_alert=fields.is_alert,
            fingerprint=fields.fingerprint,
            alert_state=AlertState.PROBLEM if fields.is_alert else AlertState.NONE,
            last_occurrence_at=parsed.date,
        )
        if fields.impact:
            ticket.impact = fields.impact
        if fields.urgency:
            ticket.urgency = fields.urgency
        ticket.priority = priority_for(ticket.impact, ticket.urgency)
        if ticket.category:
            ticket.required_skill = Skill.objects.filter(name__iexact=ticket.category).first()
        sla.apply_deadlines(ticket)
        ticket.save()
        if client_assigns_automatically(client):
            transaction.on_commit(lambda: enqueue("default", auto_assign, ticket.pk))
        if ticket.priority == Priority.P1:
            notify_sdms(
                f"[{ticket.reference}] New P1 for {client}: {ticket.subject[:80]}",
                f"A new P1 ticket needs an agent now.\n\n{ticket.reference} ({client})\n"
                f"From: {ticket.requester_email}\nSubject: {ticket.subject}\n",
            )
        record_message(ticket, parsed, inbound, kind)
        record_event(
            ticket,
            actor,
            "created",
            new={
                "source": ticket.source,
                "subject": ticket.subject[:200],
                "status": ticket.status,
                "priority": ticket.priority,
            },
        )
        return ticket


def add_mail_to_ticket(
    ticket: Ticket,
    parsed: ParsedMail,
    inbound: InboundMail | None,
    kind: str = MessageKind.MAIL,
    *,
    reopen: bool = True,
    how: str = "",
    actor: Actor = INTAKE_ACTOR,
) -> Ticket:
    """Thread a mail onto a ticket; a reply to a resolved or closed ticket reopens it.

    Auto-replies and bounces are added with `reopen=False`: a machine's answer is
    no reason to work a ticket again.
    """
    with transaction.atomic(savepoint=False):
        ticket = Ticket.objects.select_for_update().get(pk=ticket.pk)
        record_message(ticket, parsed, inbound, kind)
        record_event(ticket, actor, "mail_added", new={"kind": kind, "matched_by": how})
        if reopen and not ticket.is_open:
            apply_status(ticket, TicketStatus.OPEN, actor, note="reopened by an incoming mail")
        ticket.save(update_fields=["updated_at"])
        return ticket


class StaleDecision(Exception):
    """What the intake decided on unlocked rows changed before the lock was taken;
    the intake decides again."""


def fold_alert(
    ticket: Ticket,
    parsed: ParsedMail,
    inbound: InboundMail | None,
    *,
    signature: AlertSignature,
    actor: Actor = INTAKE_ACTOR,
) -> Ticket:
    """Count one more occurrence of an open alert, or mark it recovered."""
    recovery = signature.recovery
    with transaction.atomic(savepoint=False):
        ticket = Ticket.objects.select_for_update().get(pk=ticket.pk)
        if not ticket.is_open or ticket.fingerprint != signature.fingerprint:
            raise StaleDecision(f"{ticket.reference} was resolved or changed meanwhile")
        kind = MessageKind.RECOVERY if recovery else MessageKind.ALERT
        record_message(ticket, parsed, inbound, kind)
        old = {"occurrence_count": ticket.occurrence_count, "alert_state": ticket.alert_state}
        ticket.occurrence_count += 1
        ticket.last_occurrence_at = parsed.date or timezone.now()
        ticket.alert_state = AlertState.RECOVERED if recovery else AlertState.PROBLEM
        ticket.save(
            update_fields=["occurrence_count", "last_occurrence_at", "alert_state", "updated_at"]
        )
        record_event(
            ticket,
            actor,
            "alert_recovered" if recovery else "alert_repeated",
            old=old,
            new={"occurrence_count": ticket.occurrence_count, "alert_state": ticket.alert_state},
        )
        return ticket
