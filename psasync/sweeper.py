"""Nothing waits forever: write-backs whose job was lost are sent again.

A job can be lost between the outbox and the PSA: Redis down when the entry was
recorded, a worker killed mid-call, a flushed queue. Run every minute
(`helpdesk/cron.py`, or `manage.py sweep_writebacks`), the sweeper
- puts back to pending a row "sending" for longer than any job may run (its
  worker died; the next attempt looks for the marker before creating), and
- queues every pending row overdue by more than the grace period whose job is
  gone (psasync.jobs tells which rows still have one queued, running or due).
A duplicate job would be harmless: a row is claimed under its lock, once.
"""

import logging
from datetime import datetime, timedelta
from itertools import islice

from django.db import transaction
from django.utils import timezone

from .jobs import queue_send, waiting_sends
from .models import Attempt, AttemptOutcome, WriteBack, WriteBackState
from .sending import JOB_TIMEOUT, MAX_ATTEMPTS

log = logging.getLogger(__name__)
GRACE = timedelta(minutes=2)
STALE_SENDING = timedelta(seconds=JOB_TIMEOUT + 60)
STOPPED = "The worker stopped mid-attempt; the next attempt checks the PSA first."
STOPPED_GAVE_UP = (
    f"The worker stopped mid-attempt, {MAX_ATTEMPTS} attempts in all: given up. Check the"
    " PSA for the entry (retrying looks for it first)."
)
SWEEP_AT_MOST = 5000  # rows queued per sweep; the next sweep takes the rest


def requeue_stale_writebacks(
    grace_seconds: float = GRACE.total_seconds(),
    stale_seconds: float = STALE_SENDING.total_seconds(),
) -> int:
    """Recover abandoned sends and queue overdue ones; returns how many were queued."""
    now = timezone.now()
    abandoned = _recover_abandoned(now - timedelta(seconds=stale_seconds), now)
    try:
        waiting = waiting_sends(late_seconds=grace_seconds)
    except Exception:  # Redis down: nothing can be queued; the rows wait as pending
        log.exception("could not read the psa queue; next sweep")
        return 0
    overdue = (
        WriteBack.objects.filter(
            state=WriteBackState.PENDING,
            next_attempt_at__lt=now - timedelta(seconds=grace_seconds),
            connection__enabled=True,
        )
        .order_by("next_attempt_at")
        .values_list("pk", flat=True)
        .iterator()
    )
    lost = islice((pk for pk in overdue if pk not in waiting), SWEEP_AT_MOST)
    queued = 0
    for pk in dict.fromkeys([*abandoned, *lost]):
        try:
            queue_send(pk)
            queued += 1
        except Exception:
            log.exception("could not queue write-back %s; next sweep", pk)
            break
    if queued:
        log.warning("queued %d overdue write-back(s)", queued)
    return queued


def _recover_abandoned(sending_before: datetime, now: datetime) -> list[int]:
    """Put back to pending the rows whose worker died mid-send (failed, for the SDM,
    once they have used their attempts: a send that kills its worker every time must
    not loop for ever); returns the ids put back."""
    with transaction.atomic():
        abandoned = list(
            WriteBack.objects.select_for_update(skip_locked=True).filter(
                state=WriteBackState.SENDING, sending_since__lt=sending_before
            )
        )
        again, given_up = [], []
        for writeback in abandoned:
            spent = writeback.attempts - writeback.retry_from >= MAX_ATTEMPTS
            (given_up if spent else again).append(writeback.pk)
            Attempt.objects.create(
                writeback=writeback,
                started_at=writeback.sending_since,
                finished_at=now,
                outcome=AttemptOutcome.FAILED if spent else AttemptOutcome.RETRY,
                message=STOPPED_GAVE_UP if spent else STOPPED,
            )
        WriteBack.objects.filter(pk__in=again).update(
            state=WriteBackState.PENDING, sending_since=None, next_attempt_at=now
        )
        WriteBack.objects.filter(pk__in=given_up).update(
            state=WriteBackState.FAILED,
            sending_since=None,
            next_attempt_at=None,
            last_error=STOPPED_GAVE_UP,
            last_status=None,
        )
    if abandoned:
        log.warning("recovered %d write-back(s) abandoned mid-send", len(abandoned))
    return again
