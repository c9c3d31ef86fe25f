"""Running a stored mail through the intake stages, once, whatever it contains.

`process_inbound` is safe to call again for the same mail (after a failure, a
re-route, a redelivered job): the whole decision runs in one transaction, and
the database's unique constraints decide races between concurrent workers,
after which the loser re-runs and sees the winner's result.
"""

import logging
import traceback
from dataclasses import dataclass

from django.db import IntegrityError, transaction
from django.utils import timezone

from clients.models import Client
from desklib.mailparse import ParsedMail, parse_mail

from .. import actions
from ..models import InboundMail, InboundStatus, IntakeOutcome, MessageKind, Ticket
from ..models.inbound import CONSUMING_OUTCOMES
from . import fold
from .classify import MailClass, classify, returned_message_ids
from .route import route
from .rules import apply_rules
from .thread import find_ticket

log = logging.getLogger(__name__)
_RACE_RETRIES = 3


@dataclass(frozen=True)
class IntakeResult:
    outcome: str
    ticket: Ticket | None = None
    client: Client | None = None
    reason: str = ""

    def as_dict(self) -> dict:
        return {
            "outcome": self.outcome,
            "ticket": self.ticket.reference if self.ticket else None,
            "client": self.client.slug if self.client else None,
            "reason": self.reason,
        }


def dedupe_key(parsed: ParsedMail, inbound: InboundMail) -> str:
    """Same Message-ID for the client, or the same bytes when there is no Message-ID.

    A message rebuilt from a provider's parsed fields differs in its bytes on each
    delivery (fresh MIME boundaries), so there the provider's own id stands in.
    """
    if parsed.message_id:
        return f"mid:{parsed.message_id}"
    if inbound.raw_rebuilt and inbound.provider_event_id:
        return f"event:{inbound.provider}:{inbound.provider_event_id}"
    return f"sha256:{inbound.raw_sha256}"


def process_inbound_job(inbound_id: int) -> None:
    """RQ entry point. Failures are recorded on the mail, not raised (RQ would only log them).

    A mail that is no longer "received" was handled by an earlier run of this job
    (the sweeper may queue one twice); reprocessing is the SDM's explicit action.
    """
    inbound = InboundMail.objects.get(pk=inbound_id)
    if inbound.status == InboundStatus.RECEIVED:
        process_inbound(inbound)


def process_inbound(inbound: InboundMail) -> IntakeResult:
    """Run the stages for a stored mail and record the outcome on it. Never raises
    for anything in the mail; an unexpected error marks the mail failed for the SDM."""
    if inbound.unreadable_payload:
        # Not a mail: reprocessing cannot help; the error stays for the SDM.
        return IntakeResult("failed", reason="the provider's payload held no readable mail")
    try:
        parsed = parse_mail(bytes(inbound.raw), inbound.received_at)
    except Exception:  # parse_mail promises not to raise; if it ever does, the SDM sees it
        return _record_failure(inbound, ParsedMail())
    for attempt in range(_RACE_RETRIES):
        try:
            return _process_once(inbound, parsed)
        except IntegrityError:
            # A concurrent worker took the same mail or alert first; look again.
            if attempt == _RACE_RETRIES - 1:
                return _record_failure(inbound, parsed)
        except Exception:
            return _record_failure(inbound, parsed)
    raise AssertionError("unreachable")


def _record_failure(inbound: InboundMail, parsed: ParsedMail) -> IntakeResult:
    error = traceback.format_exc()
    log.exception("intake failed for inbound mail %s", inbound.pk)
    InboundMail.objects.filter(pk=inbound.pk).update(
        status=InboundStatus.FAILED,
        error=error[-20000:],
        processed_at=timezone.now(),
        subject=parsed.subject[:998],
        from_address=parsed.from_address[:254],
        message_id=parsed.message_id,
    )
    inbound.refresh_from_db()
    return IntakeResult("failed", reason=error.strip().splitlines()[-1][:500])


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
        result = _decide(inbound, parsed)
        inbound.status = InboundStatus.PROCESSED
        inbound.outcome = result.outcome
        inbound.reason = result.reason
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


def _decide(inbound: InboundMail, parsed: ParsedMail) -> IntakeResult:
    # Stage 1: route.
    if inbound.route_to_id:
        client, via = inbound.route_to, "routed by an SDM"
    else:
        client, address = route(inbound.envelope_recipient, parsed)
        via = f"to {address}"
    if client is None:
        inbound.dedupe_key = dedupe_key(parsed, inbound)
        waiting = (
            InboundMail.objects.filter(
                client=None, outcome=IntakeOutcome.UNROUTED, dedupe_key=inbound.dedupe_key
            )
            .exclude(pk=inbound.pk)
            .values_list("pk", flat=True)
            .first()
        )
        if waiting:
            # One unrouted copy in the SDM's queue is enough; routing it handles the mail.
            return IntakeResult(
                IntakeOutcome.DUPLICATE, reason=f"the same mail waits as unrouted #{waiting}"
            )
        return IntakeResult(
            IntakeOutcome.UNROUTED, reason="no dedicated address among the recipients"
        )
    if not client.active:
        return IntakeResult(IntakeOutcome.REJECTED, client=client, reason="client is inactive")

    # Stage 2: idempotency.
    inbound.dedupe_key = dedupe_key(parsed, inbound)
    first = (
        InboundMail.objects.filter(client=client, dedupe_key=inbound.dedupe_key, is_primary=True)
        .exclude(pk=inbound.pk)
        .only("pk", "ticket")
        .first()
    )
    if first:
        return IntakeResult(
            IntakeOutcome.DUPLICATE, first.ticket, client, f"first delivered as inbound #{first.pk}"
        )

    # Stages 3 and 6 (rules are read before deciding, since they can override a class).
    classification = classify(parsed)
    rules = apply_rules(client, parsed, inbound.received_at)
    kind = classification.kind
    if rules.treat_as_alert and kind != MailClass.BOUNCE:
        kind = MailClass.ALERT
    elif classification.heuristic and client.find_psa_ticket_number(parsed.subject):
        # PSAs mark their notifications "bulk" or "suppress auto-responses"; one that
        # carries the client's ticket number is the MSP handing us work.
        kind = MailClass.REGULAR

    # Machines answering us never open a ticket.
    if kind in (MailClass.AUTO_REPLY, MailClass.BOUNCE):
        extra = returned_message_ids(parsed) if kind == MailClass.BOUNCE else []
        ticket, how = find_ticket(client, parsed, extra)
        message_kind = MessageKind.BOUNCE if kind == MailClass.BOUNCE else MessageKind.AUTO_REPLY
        if ticket:
            actions.add_mail_to_ticket(ticket, parsed, inbound, message_kind, reopen=False, how=how)
            return IntakeResult(
                IntakeOutcome.THREADED, ticket, client, f"{classification.reason}; noted ({how})"
            )
        return IntakeResult(IntakeOutcome.SUPPRESSED, None, client, classification.reason)

    if rules.suppress:
        return IntakeResult(
            IntakeOutcome.SUPPRESSED, None, client, f"rule: {', '.join(rules.matched)}"
        )

    # Stage 4: thread.
    ticket, how = find_ticket(client, parsed)
    signature = fold.alert_signature(
        parsed, is_alert=kind == MailClass.ALERT, rule_pattern=rules.fingerprint_pattern
    )
    if ticket:
        if signature and ticket.fingerprint == signature.fingerprint and ticket.is_open:
            actions.fold_alert(ticket, parsed, inbound, recovery=signature.recovery)
            return IntakeResult(IntakeOutcome.FOLDED, ticket, client, f"same alert ({how})")
        if signature and signature.recovery:
            # A recovery is news, not work: it never reopens what was resolved.
            actions.add_mail_to_ticket(
                ticket, parsed, inbound, MessageKind.RECOVERY, reopen=False, how=how
            )
            return IntakeResult(IntakeOutcome.THREADED, ticket, client, f"recovery ({how})")
        actions.add_mail_to_ticket(ticket, parsed, inbound, how=how)
        return IntakeResult(IntakeOutcome.THREADED, ticket, client, f"matched by {how}")

    # Stage 5: fold.
    if signature:
        open_ticket = fold.open_ticket_for(client, signature.fingerprint)
        if open_ticket:
            actions.fold_alert(open_ticket, parsed, inbound, recovery=signature.recovery)
            reason = f"{signature.preset} fingerprint {signature.fingerprint}"
            return IntakeResult(IntakeOutcome.FOLDED, open_ticket, client, reason)
        if signature.recovery:
            return IntakeResult(
                IntakeOutcome.SUPPRESSED, None, client, "recovery for an alert with no open ticket"
            )

    fields = actions.NewTicketFields(
        impact=rules.impact,
        urgency=rules.urgency,
        category=rules.category,
        psa_ticket_number=client.find_psa_ticket_number(parsed.subject),
        is_alert=signature is not None,
        fingerprint=signature.fingerprint if signature else "",
    )
    message_kind = MessageKind.ALERT if signature else MessageKind.MAIL
    ticket = actions.create_ticket_from_mail(client, parsed, inbound, fields, message_kind)
    reason = f"mail {via}"
    if rules.matched:
        reason += f"; rules: {', '.join(rules.matched)}"
    if rules.timed_out:
        reason += f"; rules skipped, their patterns ran too long: {', '.join(rules.timed_out)}"
    return IntakeResult(IntakeOutcome.CREATED, ticket, client, reason)
