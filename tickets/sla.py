"""The SLA clock: deadlines from a client's policy and calendar, pauses while waiting.

Deadlines are instants: `created_at` plus the target, counted in the client's
business time (or around the clock), plus whatever business time the ticket
spent waiting on the MSP or its customer. Recomputing them from those three
facts is all a pause, a resume or a priority change has to do.
"""

from dataclasses import dataclass
from datetime import datetime, timedelta

from clients.models import BusinessCalendar, Client, SlaPolicy, SlaTarget
from desklib.businesstime import Calendar, NeverOpen, add_business_time, business_time_between

from .models import Ticket
from .models.ticket import SlaState


def policy_of(client: Client) -> SlaPolicy | None:
    try:
        return client.sla_policy
    except SlaPolicy.DoesNotExist:
        return None


def calendar_of(client: Client, around: datetime) -> Calendar:
    """The calendar SLA time is counted on; 24x7 without a policy, a business-hours
    policy or a calendar."""
    policy = policy_of(client)
    if policy is None or not policy.business_hours_only:
        return Calendar.twenty_four_seven()
    try:
        calendar = client.calendar
    except BusinessCalendar.DoesNotExist:
        return Calendar.twenty_four_seven()
    return calendar.as_calendar(around.date())


@dataclass(frozen=True)
class Terms:
    """What a ticket's clock runs on: its client's policy, the target for its priority,
    and the calendar (read once, for every computation that needs them)."""

    policy: SlaPolicy
    target: SlaTarget
    calendar: Calendar


def terms_of(ticket: Ticket, around: datetime) -> Terms | None:
    policy = policy_of(ticket.client)
    target = policy.targets_for(ticket.priority) if policy and ticket.priority else None
    if target is None:
        return None
    return Terms(policy, target, calendar_of(ticket.client, around))


def deadlines(
    ticket: Ticket, terms: Terms | None = None
) -> tuple[datetime | None, datetime | None]:
    """(first response due, resolution due) for the ticket's priority; None without a target."""
    terms = terms or terms_of(ticket, ticket.created_at)
    if terms is None:
        return None, None
    calendar, target = terms.calendar, terms.target
    start, paused = ticket.created_at, ticket.sla_paused_for
    try:
        return (
            add_business_time(calendar, start, target.first_response + paused),
            add_business_time(calendar, start, target.resolution + paused),
        )
    except NeverOpen:
        return None, None  # a calendar with no hours: no deadline rather than a wrong one


def apply_deadlines(ticket: Ticket, now: datetime | None = None) -> None:
    """Set the ticket's deadlines, and when its SLA state can next change, in memory
    (the caller saves)."""
    terms = terms_of(ticket, now or ticket.created_at)
    ticket.first_response_due, ticket.resolution_due = deadlines(ticket, terms)
    ticket.sla_next_due = (
        ticket.first_response_due
        if ticket.first_responded_at is None and ticket.first_response_due
        else ticket.resolution_due
    )
    ticket.sla_check_at = next_check(ticket, now or ticket.created_at, terms)
    if ticket.sla_next_due and not ticket.sla_state:
        ticket.sla_state = SlaState.OK  # on track until the watch says otherwise


def next_check(ticket: Ticket, after: datetime, terms: Terms | None = None) -> datetime | None:
    """The first instant after `after` when the ticket's SLA state can change: a pending
    deadline's at-risk point or the deadline itself. The watch looks only at tickets
    whose instant has come, so a minute's run costs what changes, not what is open."""
    terms = terms or terms_of(ticket, after)
    if terms is None:
        return None
    calendar, target, policy = terms.calendar, terms.target, terms.policy
    pending = []
    if ticket.first_responded_at is None and ticket.first_response_due:
        pending.append((target.first_response, ticket.first_response_due))
    if ticket.resolved_at is None and ticket.resolution_due:
        pending.append((target.resolution, ticket.resolution_due))
    instants = []
    for length, due in pending:
        try:
            at_risk = add_business_time(
                calendar,
                ticket.created_at,
                length * policy.at_risk_percent / 100 + ticket.sla_paused_for,
            )
        except NeverOpen:
            continue
        instants += [at_risk, due]
    later = [instant for instant in instants if instant > after]
    return min(later) if later else None


def pause(ticket: Ticket, now: datetime) -> None:
    if ticket.sla_paused_at is None:
        ticket.sla_paused_at = now


def resume(ticket: Ticket, now: datetime) -> timedelta:
    """End a pause: its business time pushes the deadlines out. Returns that time."""
    if ticket.sla_paused_at is None:
        return timedelta(0)
    waited = business_time_between(calendar_of(ticket.client, now), ticket.sla_paused_at, now)
    ticket.sla_paused_for += waited
    ticket.sla_paused_at = None
    apply_deadlines(ticket, now)
    return waited


def state_at(ticket: Ticket, now: datetime, calendar: Calendar, at_risk_percent: int) -> str:
    """ok, at_risk or breached for the deadlines still to be met; '' without any.

    Elapsed time is business time since creation less time spent waiting, up to
    the start of a pause that is still running: a paused clock does not move.
    """
    pending = []
    if ticket.first_response_due and ticket.first_responded_at is None:
        pending.append(ticket.first_response_due)
    if ticket.resolution_due and ticket.resolved_at is None:
        pending.append(ticket.resolution_due)
    if not pending:
        return SlaState.NONE
    clock = ticket.sla_paused_at or now
    elapsed = business_time_between(calendar, ticket.created_at, clock) - ticket.sla_paused_for
    state = SlaState.OK
    for due in pending:
        target = business_time_between(calendar, ticket.created_at, due) - ticket.sla_paused_for
        if clock >= due:
            return SlaState.BREACHED
        if target > timedelta(0) and elapsed * 100 >= target * at_risk_percent:
            state = SlaState.AT_RISK
    return state


def refresh_state(ticket: Ticket, now: datetime, terms: Terms | None = None) -> str:
    """Recompute `sla_state` in memory after the deadlines changed (the caller saves)."""
    terms = terms or terms_of(ticket, now)
    if terms is None:
        ticket.sla_state = SlaState.NONE
    else:
        ticket.sla_state = state_at(ticket, now, terms.calendar, terms.policy.at_risk_percent)
    return ticket.sla_state
