"""Status changes, with the SLA clock paused while we wait on the MSP."""

from django.db import transaction
from django.utils import timezone

from .. import sla
from ..models import (
    Ticket,
    TicketStatus,
)
from ..models.ticket import OPEN_STATUSES
from .base import Actor, record_event


def release_fingerprint_if_taken(ticket: Ticket, actor: Actor) -> None:
    """A resolved alert ticket being reopened while its alert fired again on a newer
    ticket: the newer one keeps folding the alert; this one becomes plain work."""
    if not ticket.fingerprint:
        return
    taken = (
        Ticket.objects.filter(
            client_id=ticket.client_id, fingerprint=ticket.fingerprint, status__in=OPEN_STATUSES
        )
        .exclude(pk=ticket.pk)
        .values_list("pk", flat=True)
        .first()
    )
    if taken:
        record_event(
            ticket,
            actor,
            "fingerprint_released",
            old=ticket.fingerprint,
            new="",
            note=f"the alert is open again on HD-{taken}",
        )
        ticket.fingerprint = ""
        ticket.save(update_fields=["fingerprint", "updated_at"])


# The SLA clock stands still while the work is not ours: waiting on the MSP or its
# customer, or resolved (a reopened ticket continues where it stopped).
PAUSED_STATUSES = (TicketStatus.WAITING, TicketStatus.RESOLVED, TicketStatus.CLOSED)


def apply_status(ticket: Ticket, status: str, actor: Actor, note: str = "") -> None:
    """Change the status, pausing or resuming the SLA clock as the work leaves or
    comes back to us."""
    old, now = ticket.status, timezone.now()
    if status in OPEN_STATUSES and old not in OPEN_STATUSES:
        release_fingerprint_if_taken(ticket, actor)
    ticket.status = status
    if status == TicketStatus.RESOLVED:
        ticket.resolved_at = now
    elif status in OPEN_STATUSES:
        ticket.resolved_at = None  # reopened; closing keeps when it was resolved
    if status in PAUSED_STATUSES:
        sla.pause(ticket, now)
        if status != TicketStatus.WAITING:
            ticket.sla_state = ""  # nothing is due while it is resolved
    elif old in PAUSED_STATUSES:
        waited = sla.resume(ticket, now)
        record_event(ticket, actor, "sla_resumed", new={"paused_for_s": waited.total_seconds()})
    ticket.save(update_fields=[*SLA_FIELDS, "sla_state", "status", "resolved_at", "updated_at"])
    record_event(ticket, actor, "status_changed", old=old, new=status, note=note)


SLA_FIELDS = [
    "first_response_due", "resolution_due", "sla_next_due", "sla_check_at", "sla_paused_at",
    "sla_paused_for",
]  # fmt: skip


def change_status(ticket: Ticket, status: str, actor: Actor, note: str = "") -> Ticket:
    """Move a ticket to `status` (no-op if it is there already)."""
    with transaction.atomic():
        ticket = Ticket.objects.select_for_update().get(pk=ticket.pk)
        if ticket.status != status:
            apply_status(ticket, status, actor, note)
        return ticket
