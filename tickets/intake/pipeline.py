"""Running a stored mail through the intake stages, once, whatever it contains.

`process_inbound` is safe to call again for the same mail (after a failure, a
re-route, a redelivered job): the whole decision runs in one transaction, and
the database's unique constraints decide races between concurrent workers,
after which the loser re-runs and sees the winner's result.
"""

import logging
import traceback

from django.db import IntegrityError, transaction
from django.utils import timezone

from desklib.charsets import storable_text
from desklib.mailparse import ParsedMail, parse_mail

from .. import actions
from ..models import InboundMail, InboundStatus
from ..models.inbound import CONSUMING_OUTCOMES
from .decide import IntakeResult, decide

log = logging.getLogger(__name__)
_RACE_RETRIES = 3


FAILED = "failed"  # what process_inbound reports when a mail could not be processed


def process_inbound_job(inbound_id: int) -> None:
    """RQ entry point. Failures are recorded on the mail, not raised (RQ would only log them).

    A mail that is no longer "received" was handled by an earlier run of this job
    (the sweeper may queue one twice); reprocessing is the SDM's explicit action.
    """
    inbound = InboundMail.objects.get(pk=inbound_id)
    if inbound.status != InboundStatus.RECEIVED:
        return
    try:
        process_inbound(inbound)
    except Exception:  # even recording the failure failed: mark what we can
        log.exception("inbound mail %s could not be processed or marked", inbound_id)
        InboundMail.objects.filter(pk=inbound_id).update(
            status=InboundStatus.FAILED, error=storable_text(traceback.format_exc())[-20000:]
        )


def process_inbound(inbound: InboundMail) -> IntakeResult:
    """Run the stages for a stored mail and record the outcome on it. Never raises
    for anything in the mail; an unexpected error marks the mail failed for the SDM."""
    if inbound.unreadable_payload:
        # Not a mail: reprocessing cannot help; the error stays for the SDM.
        return IntakeResult(FAILED, reason="the provider's payload held no readable mail")
    try:
        parsed = parse_mail(bytes(inbound.raw), inbound.received_at)
    except Exception:  # parse_mail promises not to raise; if it ever does, the SDM sees it
        return _record_failure(inbound, ParsedMail())
    for attempt in range(_RACE_RETRIES):
        try:
            return _process_once(inbound, parsed)
        except (IntegrityError, actions.StaleDecision):
            # A concurrent worker took the same mail or alert first; look again.
            if attempt == _RACE_RETRIES - 1:
                return _record_failure(inbound, parsed)
        except Exception:
            return _record_failure(inbound, parsed)
    raise AssertionError("unreachable")


def _record_failure(inbound: InboundMail, parsed: ParsedMail) -> IntakeResult:
    """Mark the mail failed with the traceback first; then, separately, what was read of it."""
    error = storable_text(traceback.format_exc())
    log.exception("intake failed for inbound mail %s", inbound.pk)
    rows = InboundMail.objects.filter(pk=inbound.pk)
    rows.update(status=InboundStatus.FAILED, error=error[-20000:], processed_at=timezone.now())
    try:
        rows.update(
            subject=parsed.subject[:998],
            from_address=parsed.from_address[:254],
            message_id=parsed.message_id,
        )
    except Exception:
        log.exception("could not store what was read of inbound mail %s", inbound.pk)
    inbound.refresh_from_db()
    return IntakeResult(FAILED, reason=error.strip().splitlines()[-1][:500])


def _process_once(inbound: InboundMail, parsed: ParsedMail) -> IntakeResult:
    with transaction.atomic():
        # The raw bytes are already parsed: neither read nor rewritten here.
        inbound = InboundMail.objects.select_for_update().defer("raw").get(pk=inbound.pk)
        if inbound.status == InboundStatus.PROCESSED and inbound.is_primary:
            # Already consumed (a re-run job, a second click): report, change nothing.
            return IntakeResult(inbound.outcome, inbound.ticket, inbound.client, inbound.reason)
        inbound.attempts += 1
        inbound.subject = parsed.subject[:998]
        inbound.from_address = parsed.from_address[:254]
        inbound.message_id = parsed.message_id
        result = decide(inbound, parsed)
        inbound.status = InboundStatus.PROCESSED
        inbound.outcome = result.outcome
        inbound.reason = _with_defects(result.reason, parsed)
        inbound.client = result.client
        inbound.ticket = result.ticket
        inbound.error = ""
        inbound.processed_at = timezone.now()
        inbound.is_primary = result.outcome in CONSUMING_OUTCOMES
        inbound.save(update_fields=_DECISION_FIELDS)
    return result


_DECISION_FIELDS = [
    "attempts", "subject", "from_address", "message_id", "dedupe_key", "status", "outcome",
    "reason", "client", "ticket", "error", "processed_at", "is_primary",
]  # fmt: skip


def _with_defects(reason: str, parsed: ParsedMail) -> str:
    """The SDM sees what the decoder had to work around (a bad Date, parts kept only raw)."""
    if not parsed.defects:
        return reason
    shown = "; ".join(dict.fromkeys(parsed.defects[:5]))
    return f"{reason} [decoding: {shown}]"
