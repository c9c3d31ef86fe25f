"""Stage 0: keep the raw bytes before anything can go wrong."""

import hashlib
import logging

from django.db import transaction

from desklib.jobs import enqueue

from ..models import InboundMail

log = logging.getLogger(__name__)


def _text(value, limit: int) -> str:
    """Provider metadata as storable text, whatever type or odd characters it came in."""
    if value is None:
        return ""
    text = value if isinstance(value, str) else str(value)
    # Lone surrogates and NUL: neither PostgreSQL nor the driver accepts them.
    text = text.encode("utf-8", "replace").decode("utf-8").replace("\x00", "")
    return text[:limit]


def store_raw_mail(
    raw: bytes,
    *,
    provider: str,
    envelope_recipient="",
    provider_event_id="",
    raw_rebuilt: bool = False,
    unreadable: bool = False,
) -> InboundMail:
    """Insert the mail as received and commit it. Raises if it could not be stored.

    Nothing is parsed here: a mail that breaks the parser is still kept. With
    `unreadable`, `raw` is a provider payload that held no readable mail.
    """
    with transaction.atomic():
        return InboundMail.objects.create(
            provider=_text(provider, 30),
            provider_event_id=_text(provider_event_id, 200),
            envelope_recipient=_text(envelope_recipient, 254),
            raw=raw,
            raw_sha256=hashlib.sha256(raw).hexdigest(),
            raw_size=len(raw),
            raw_rebuilt=raw_rebuilt,
            unreadable_payload=unreadable,
        )


def intake_job_id(inbound_id: int) -> str:
    return f"intake-{inbound_id}"


def schedule_processing(inbound: InboundMail) -> None:
    """Process the stored mail on the `intake` queue (inline without Redis), after commit.

    If the job cannot be queued (Redis unreachable), the mail is already safe:
    it stays "received" and the sweeper schedules it again later.
    """
    from .pipeline import process_inbound_job

    def send() -> None:
        try:
            enqueue("intake", process_inbound_job, inbound.pk, job_id=intake_job_id(inbound.pk))
        except Exception:
            log.exception("could not queue inbound mail %s; the sweeper will retry", inbound.pk)

    transaction.on_commit(send)
