"""Agents log the time they spend; the brief summary is what the MSP will see."""

from datetime import datetime, timedelta

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from ..models import Agent, Ticket, TimeEntry, WorkType
from ..models.time_entry import MAX_ENTRY, SUMMARY_MAX
from ..queue import visible_to
from ..signals import time_entry_recorded
from .base import Actor, record_event

FUTURE_SLACK = timedelta(minutes=5)  # clocks differ a little between machines
MAX_AGE = timedelta(days=30)  # older time is a typo, or the SDM's to correct


def record_time(
    ticket: Ticket,
    agent: Agent,
    started_at: datetime,
    ended_at: datetime,
    summary: str,
    *,
    private_notes: str = "",
    billable: bool = True,
    work_type: str = WorkType.REMOTE,
) -> TimeEntry:
    """Record time on a ticket; ValidationError with a message per problem otherwise."""
    summary = (summary or "").strip()
    errors: dict[str, str] = {}
    if not summary:
        errors["summary"] = "Write a brief summary: it is what the MSP sees."
    elif len(summary) > SUMMARY_MAX:
        errors["summary"] = f"Keep the summary under {SUMMARY_MAX} characters ({len(summary)} now)."
    if ended_at <= started_at:
        errors["ended_at"] = "The end must be after the start."
    elif ended_at - started_at > MAX_ENTRY:
        errors["ended_at"] = "An entry cannot be longer than 24 hours; split it."
    elif ended_at > timezone.now() + FUTURE_SLACK:
        errors["ended_at"] = "The end is in the future."
    elif started_at < timezone.now() - MAX_AGE:
        errors["started_at"] = "Time older than 30 days cannot be logged here; ask the SDM."
    if work_type not in WorkType.values:
        errors["work_type"] = f"Unknown work type {work_type!r}."
    if errors:
        raise ValidationError(errors)
    with transaction.atomic():
        # One entry at a time per agent: the overlap check cannot race itself.
        agent = Agent.objects.select_for_update().get(pk=agent.pk)
        if not visible_to(agent).filter(pk=ticket.pk).exists():
            raise ValidationError("This ticket is not in your teams' queue.")
        clash = (
            TimeEntry.objects.filter(agent=agent, started_at__lt=ended_at, ended_at__gt=started_at)
            .select_related("ticket")
            .first()
        )
        if clash:
            local = timezone.localtime
            raise ValidationError(
                f"Overlaps your entry on {clash.ticket.reference} from "
                f"{local(clash.started_at):%H:%M} to {local(clash.ended_at):%H:%M}."
            )
        entry = TimeEntry.objects.create(
            ticket=ticket,
            agent=agent,
            started_at=started_at,
            ended_at=ended_at,
            duration=ended_at - started_at,
            summary=summary,
            private_notes=private_notes,
            billable=billable,
            work_type=work_type,
        )
        record_event(
            ticket,
            Actor.of(agent.user),
            "time_logged",
            new={"entry": entry.pk, "minutes": round(entry.duration.total_seconds() / 60, 1)},
        )
        time_entry_recorded.send(sender=TimeEntry, entry=entry)
        return entry
