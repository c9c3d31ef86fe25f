"""The scheduled job that flags tickets at risk of breaching, or breached, and tells the SDMs.

Run every minute by the RQ cron (helpdesk/cron.py). Each transition is audited and
mailed once; a ticket already flagged is not mailed again.
"""

import logging
from datetime import datetime

from django.db import transaction
from django.utils import timezone

from . import sla
from .actions import Actor, record_event
from .models import Ticket
from .models.ticket import OPEN_STATUSES, SlaState
from .notify import notify_sdms

log = logging.getLogger(__name__)
SLA_WATCH = Actor("sla-watch")
_WORSE = {SlaState.NONE: 0, SlaState.OK: 0, SlaState.AT_RISK: 1, SlaState.BREACHED: 2}


def flag_sla_states(now: datetime | None = None) -> int:
    """Update sla_state on open tickets with deadlines; returns how many changed."""
    now = now or timezone.now()
    candidates = (
        Ticket.objects.filter(status__in=OPEN_STATUSES, sla_paused_at__isnull=True)
        # A breach stays a breach, unless its deadlines moved past now (a priority
        # override, say).
        .exclude(sla_state=SlaState.BREACHED, sla_next_due__lte=now)
        .exclude(first_response_due__isnull=True, resolution_due__isnull=True)
        .select_related("client", "client__sla_policy", "client__calendar")
    )
    calendars: dict[int, tuple] = {}
    changed = 0
    for ticket in candidates.iterator(chunk_size=500):
        if ticket.client_id not in calendars:
            policy = sla.policy_of(ticket.client)
            calendars[ticket.client_id] = (
                sla.calendar_of(ticket.client, now),
                policy.at_risk_percent if policy else 75,
            )
        calendar, at_risk_percent = calendars[ticket.client_id]
        state = sla.state_at(ticket, now, calendar, at_risk_percent)
        if state != ticket.sla_state:
            changed += _transition(ticket, now)
    return changed


def _transition(ticket: Ticket, now: datetime) -> int:
    with transaction.atomic():
        locked = Ticket.objects.select_for_update().select_related("client").get(pk=ticket.pk)
        if locked.sla_paused_at or locked.status not in OPEN_STATUSES:
            return 0  # paused or resolved since it was read
        old = locked.sla_state
        state = sla.refresh_state(locked, now)  # on the locked row, not the one read before
        if old == state:
            return 0
        locked.sla_state = state
        locked.save(update_fields=["sla_state", "updated_at"])
        record_event(locked, SLA_WATCH, "sla_state_changed", old=old, new=state)
        if _WORSE[state] > _WORSE[old]:
            label = "BREACHED" if state == SlaState.BREACHED else "at risk"
            due = (
                locked.first_response_due
                if locked.first_responded_at is None
                else locked.resolution_due
            )
            notify_sdms(
                f"[{locked.reference}] SLA {label}: {locked.subject[:80]}",
                f"{locked.reference} for {locked.client} ({locked.priority}) is {label}.\n"
                f"Due: {due:%Y-%m-%d %H:%M} UTC\nSubject: {locked.subject}\n",
            )
    return 1
