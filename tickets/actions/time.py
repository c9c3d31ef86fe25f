"""Agents log the time they spend; the brief summary is what the MSP will see."""

from datetime import datetime, timedelta
from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from ..models import Agent, Ticket, TimeEntry, WorkType
from ..models.time_entry import MAX_ENTRY, SUMMARY_MAX
from ..queue import visible_to
from ..signals import time_entry_changed, time_entry_recorded, time_entry_voided
from .base import Actor, record_event

FUTURE_SLACK = timedelta(minutes=5)  # clocks differ a little between machines
MAX_AGE = timedelta(days=30)  # older time is a typo, or the SDM's to correct


def _check(started_at: datetime, ended_at: datetime, summary: str, work_type: str) -> str:
    """The cleaned summary; ValidationError with a message per problem otherwise."""
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
    return summary


def _refuse_overlap(
    agent: Agent, started_at: datetime, ended_at: datetime, exclude: int | None = None
) -> None:
    clash = (
        TimeEntry.objects.filter(
            agent=agent, voided_at__isnull=True, started_at__lt=ended_at, ended_at__gt=started_at
        )
        .exclude(pk=exclude)
        .select_related("ticket")
        .first()
    )
    if clash:
        local = timezone.localtime
        raise ValidationError(
            f"Overlaps your entry on {clash.ticket.reference} from "
            f"{local(clash.started_at):%H:%M} to {local(clash.ended_at):%H:%M}."
        )


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
    summary = _check(started_at, ended_at, summary, work_type)
    with transaction.atomic():
        # One entry at a time per agent: the overlap check cannot race itself.
        agent = Agent.objects.select_for_update().get(pk=agent.pk)
        if not visible_to(agent).filter(pk=ticket.pk).exists():
            raise ValidationError("This ticket is not in your teams' queue.")
        _refuse_overlap(agent, started_at, ended_at)
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


def _lock_editable(entry: TimeEntry, user) -> TimeEntry:
    """The entry, locked; refused unless `user` logged it or may change anyone's time."""
    entry = TimeEntry.objects.select_for_update().select_related("agent", "ticket").get(pk=entry.pk)
    if entry.voided_at:
        raise ValidationError("This entry was deleted.")
    if entry.agent.user_id != user.pk and not user.has_perm("tickets.change_timeentry"):
        raise ValidationError("Only the agent who logged this time, or an SDM, may change it.")
    return entry


EDITABLE = ("started_at", "ended_at", "summary", "private_notes", "billable", "work_type")


def change_time(entry: TimeEntry, user, **changes: Any) -> TimeEntry:
    """Change a time entry (the fields in EDITABLE). Listeners of `time_entry_changed`
    carry it to the PSA, or refuse with a ValidationError where the PSA forbids it."""
    unknown = set(changes) - set(EDITABLE)
    if unknown:
        raise ValueError(f"cannot change {sorted(unknown)}")
    with transaction.atomic():
        entry = _lock_editable(entry, user)
        old = {name: getattr(entry, name) for name in EDITABLE}
        new = {**old, **changes}
        new["summary"] = _check(
            new["started_at"], new["ended_at"], new["summary"], new["work_type"]
        )
        Agent.objects.select_for_update().filter(pk=entry.agent_id).first()
        _refuse_overlap(entry.agent, new["started_at"], new["ended_at"], exclude=entry.pk)
        changed = {name for name in EDITABLE if new[name] != old[name]}
        if not changed:
            return entry
        for name in changed:
            setattr(entry, name, new[name])
        entry.duration = entry.ended_at - entry.started_at
        entry.save()
        shown = sorted(changed - {"private_notes"})  # private notes stay out of the trail
        record_event(
            entry.ticket,
            Actor.of(user),
            "time_changed",
            old={"entry": entry.pk, **{k: str(old[k]) for k in shown}},
            new={"entry": entry.pk, **{k: str(new[k]) for k in shown}},
        )
        time_entry_changed.send(sender=TimeEntry, entry=entry, changed=changed)
        return entry


def void_time(entry: TimeEntry, user, reason: str) -> TimeEntry:
    """Delete a time entry: kept, marked void, and removed from the PSA by listeners
    of `time_entry_voided` (which may refuse where the PSA forbids it)."""
    reason = (reason or "").strip()
    if not reason:
        raise ValidationError({"reason": "Say why this time is deleted."})
    with transaction.atomic():
        entry = _lock_editable(entry, user)
        entry.voided_at = timezone.now()
        entry.voided_by = user
        entry.void_reason = reason[:300]
        entry.save(update_fields=["voided_at", "voided_by", "void_reason"])
        record_event(
            entry.ticket, Actor.of(user), "time_deleted", old={"entry": entry.pk}, note=reason
        )
        time_entry_voided.send(sender=TimeEntry, entry=entry)
        return entry
