"""Stage 0: keep the raw bytes before anything can go wrong."""

import hashlib

from django.db import transaction

from desklib.jobs import enqueue

from ..models import InboundMail


def store_raw_mail(
    raw: bytes, *, provider: str, envelope_recipient: str = "", provider_event_id: str = ""
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
        )


def schedule_processing(inbound: InboundMail) -> None:
    """Process the stored mail on the `intake` queue (inline without Redis), after commit."""
    from .pipeline import process_inbound_job

    transaction.on_commit(lambda: enqueue("intake", process_inbound_job, inbound.pk))
