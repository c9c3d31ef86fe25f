"""Stage 0: keep the raw bytes before anything can go wrong."""

import hashlib
import logging

from django.db import transaction

from desklib.jobs import enqueue

from ..models import InboundMail

log = logging.getLogger(__name__)


def store_raw_mail(
    raw: bytes,
    *,
    provider: str,
    envelope_recipient: str = "",
    provider_event_id: str = "",
    raw_rebuilt: bool = False,
) -> InboundMail:
    """Insert the mail as received and commit it. Raises if it could not be stored.

    Nothing is parsed here: a mail that breaks the parser is still kept.
    """
    with transaction.atomic():
        return InboundMail.objects.create(
            provider=provider[:30],
            provider_event_id=(provider_event_id or "")[:200],
            envelope_recipient=(envelope_recipient or "")[:254],
            raw=raw,
            raw_sha256=hashlib.sha256(raw).hexdigest(),
            raw_size=len(raw),
            raw_rebuilt=raw_rebuilt,
        )


def schedule_processing(inbound: InboundMail) -> None:
    """Process the stored mail on the `intake` queue (inline without Redis), after commit.

    If the job cannot be queued (Redis unreachable), the mail is already safe:
    it stays "received" and the sweeper schedules it again later.
    """
    from .pipeline import process_inbound_job

    def send() -> None:
        try:
            enqueue("intake", process_inbound_job, inbound.pk)
        except Exception:
            log.exception("could not queue inbound mail %s; the sweeper will retry", inbound.pk)

    transaction.on_commit(send)
