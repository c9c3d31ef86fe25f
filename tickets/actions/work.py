"""What an agent does on a ticket besides logging time: notes, the timer, resolving."""

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from ..models import Agent, InternalNote, RunningTimer, Ticket, TicketStatus
from .base import Actor, record_event
from .status import apply_status


def add_note(ticket: Ticket, actor: Actor, text: str) -> InternalNote:
    text = (text or "").strip()
    if not text:
        raise ValidationError({"text": "The note is empty."})
    with transaction.atomic():
        note = InternalNote.objects.create(
            ticket=ticket, author=actor.user, author_label=actor.label[:100], text=text
        )
        record_event(ticket, actor, "note_added", new={"note": note.pk})
        return note


def resolve_ticket(ticket: Ticket, actor: Actor, resolution: str) -> Ticket:
    """Resolve with a resolution note (kept with the ticket, for us)."""
    resolution = (resolution or "").strip()
    if not resolution:
        raise ValidationError({"resolution": "Say how it was resolved."})
    with transaction.atomic():
        ticket = Ticket.objects.select_for_update().get(pk=ticket.pk)
        if ticket.status == TicketStatus.RESOLVED:
            raise ValidationError("The ticket is already resolved.")
        InternalNote.objects.create(
            ticket=ticket,
            author=actor.user,
            author_label=actor.label[:100],
            text=f"Resolution: {resolution}",
        )
        apply_status(ticket, TicketStatus.RESOLVED, actor, note=resolution)
        return ticket


def start_timer(agent: Agent, ticket: Ticket) -> RunningTimer:
    """Start the agent's clock on a ticket (one clock per agent: a running one moves)."""
    timer, _ = RunningTimer.objects.update_or_create(
        agent=agent, defaults={"ticket": ticket, "started_at": timezone.now(), "stopped_at": None}
    )
    return timer


def stop_timer(agent: Agent) -> RunningTimer | None:
    """Stop the clock; it stays, stopped, until its time is logged (see log_timer_time)."""
    with transaction.atomic():
        timer = RunningTimer.objects.select_for_update().filter(agent=agent).first()
        if timer and timer.stopped_at is None:
            timer.stopped_at = timezone.now()
            timer.save(update_fields=["stopped_at"])
        return timer


def clear_timer(agent: Agent, ticket: Ticket) -> None:
    """The timer's time was logged on this ticket: the clock goes."""
    RunningTimer.objects.filter(agent=agent, ticket=ticket).delete()
