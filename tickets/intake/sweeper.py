"""Nothing waits forever: stored mails whose processing job never ran are sent again.

A job can be lost between storing and processing (Redis down when the webhook
enqueued, a worker killed, a flushed queue). The sweeper runs every few minutes
(`helpdesk/cron.py`, or `manage.py sweep_intake`) and re-schedules every mail
still in "received" after a grace period. A job that then runs twice is harmless:
`process_inbound_job` skips mails that are no longer "received".
"""

import logging
from datetime import timedelta

from django.utils import timezone

from desklib.jobs import enqueue, is_pending

from ..models import InboundMail, InboundStatus
from .store import intake_job_id

log = logging.getLogger(__name__)
GRACE = timedelta(minutes=2)


def requeue_stale_inbound(grace_seconds: float = GRACE.total_seconds()) -> int:
    """Schedule processing again for mails left unprocessed longer than the grace period."""
    from .pipeline import process_inbound_job

    cutoff = timezone.now() - timedelta(seconds=grace_seconds)
    stale = list(
        InboundMail.objects.filter(status=InboundStatus.RECEIVED, received_at__lt=cutoff)
        .order_by("id")
        .values_list("pk", flat=True)[:5000]
    )
    sent = 0
    for pk in stale:
        if is_pending(intake_job_id(pk)):
            continue  # still in the queue behind a backlog: one job is enough
        enqueue("intake", process_inbound_job, pk, job_id=intake_job_id(pk))
        sent += 1
    if sent:
        log.warning("re-scheduled %d stored mail(s) that were never processed", sent)
    return sent
