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
    """Update sla_state on the tickets whose next check has come; returns how many changed.

    Each ticket carries `sla_check_at`, the next instant its state can change (an
    at-risk point or a deadline): a run reads only those due, not every open ticket.
    """
    now = now or timezone.now()
    due = Ticket.objects.filter(
        status__in=OPEN_STATUSES, sla_paused_at__isnull=True, sla_check_at__lte=now
    ).values_list("pk", flat=True)
    changed = 0
    for pk in list(due[:5000]):
        changed += _check(pk, now)
    return changed


def _check(pk: int, now: datetime) -> int:
    with transaction.atomic():
        locked = Ticket.objects.select_for_update().select_related("client").get(pk=pk)
        if locked.sla_paused_at or locked.status not in OPEN_STATUSES:
            return 0  # paused or resolved since it was read
        old = locked.sla_state
        terms = sla.terms_of(locked, now)
        state = sla.refresh_state(locked, now, terms)
        locked.sla_check_at = sla.next_check(locked, now, terms)
        locked.save(update_fields=["sla_state", "sla_check_at", "updated_at"])
        if old == state:
            return 0
        record_event(locked, SLA_WATCH, "sla_state_changed", old=old, new=state)
        if _WORSE[state] > _WORSE[old]:
            label = "BREACHED" if state == SlaState.BREACHED else "at risk"
            deadline = (
                locked.first_response_due
                if locked.first_responded_at is None
                else locked.resolution_due
            )
            notify_sdms(
                f"[{locked.reference}] SLA {label}: {locked.subject[:80]}",
                f"{locked.reference} for {locked.client} ({locked.priority}) is {label}.\n"
                f"Due: {deadline:%Y-%m-%d %H:%M} UTC\nSubject: {locked.subject}\n",
            )
    return 1
