"""An SDM's override of the matrix's priority."""

from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.utils import timezone

from .. import sla
from ..models import (
    Priority,
    Ticket,
)
from .base import Actor, record_event
from .status import SLA_FIELDS


def override_priority(ticket: Ticket, priority: str, reason: str, actor: Actor) -> Ticket:
    """An SDM sets the priority by hand, with a reason; the deadlines follow it."""
    if actor.user is not None and not actor.user.has_perm("tickets.override_priority"):
        raise PermissionDenied("Only a service desk manager may override a priority.")
    if priority not in Priority.values:
        raise ValueError(f"{priority!r} is not a priority ({', '.join(Priority.values)}).")
    if not reason.strip():
        raise ValueError("Say why the priority is overridden.")
    with transaction.atomic():
        ticket = Ticket.objects.select_for_update().get(pk=ticket.pk)
        old = {"priority": ticket.priority, "resolution_due": _iso(ticket.resolution_due)}
        ticket.priority = priority
        ticket.priority_overridden = True
        now = timezone.now()
        sla.apply_deadlines(ticket, now)
        sla.refresh_state(ticket, now)
        ticket.save(
            update_fields=[
                *SLA_FIELDS,
                "sla_state",
                "priority",
                "priority_overridden",
                "updated_at",
            ]
        )
        record_event(
            ticket,
            actor,
            "priority_overridden",
            old=old,
            new={"priority": priority, "resolution_due": _iso(ticket.resolution_due)},
            note=reason.strip(),
        )
        return ticket


def _iso(value) -> str | None:
    return value.isoformat() if value else None
