"""What becomes of one routed mail: the intake stages in order, inside one transaction.

Each stage is a small function that either settles the mail (returns an
IntakeResult) or passes it on. The pipeline (pipeline.py) owns the transaction,
the retries and the recording of the result.
"""

from dataclasses import dataclass, replace

from clients.models import Client, is_covered
from desklib import alerts
from desklib.mailparse import ParsedMail

from .. import actions
from ..models import InboundMail, IntakeOutcome, MessageKind, Ticket
from . import fold
from .classify import Classification, MailClass, classify, returned_message_ids
from .route import route
from .rules import RuleResult, apply_rules
from .thread import find_ticket


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


@dataclass
class Mail:
    """One mail under decision, with what the stages learn about it."""

    inbound: InboundMail
    parsed: ParsedMail
    client: Client
    via: str
    psa_number: str = ""
    covered: bool = True


def decide(inbound: InboundMail, parsed: ParsedMail) -> IntakeResult:
    if inbound.route_to_id:
        client, via = inbound.route_to, "routed by an SDM"
    else:
        client, address = route(inbound.envelope_recipient, parsed)
        via = f"to {address}"
    inbound.dedupe_key = dedupe_key(parsed, inbound)
    if client is None:
        return _unrouted(inbound)
    if not client.active:
        return IntakeResult(IntakeOutcome.REJECTED, client=client, reason="client is inactive")
    mail = Mail(
        inbound,
        parsed,
        client,
        via,
        psa_number=client.find_psa_ticket_number(parsed.subject),
        covered=is_covered(client, inbound.received_at),
    )
    if duplicate := _duplicate(mail):
        return duplicate
    return _after_rules(mail, apply_rules(client, parsed, inbound.received_at, mail.covered))


def _unrouted(inbound: InboundMail) -> IntakeResult:
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
    return IntakeResult(IntakeOutcome.UNROUTED, reason="no dedicated address among the recipients")


def _duplicate(mail: Mail) -> IntakeResult | None:
    first = (
        InboundMail.objects.filter(
            client=mail.client, dedupe_key=mail.inbound.dedupe_key, is_primary=True
        )
        .exclude(pk=mail.inbound.pk)
        .only("pk", "ticket")
        .first()
    )
    if first is None:
        return None
    reason = f"first delivered as inbound #{first.pk}"
    return IntakeResult(IntakeOutcome.DUPLICATE, first.ticket, mail.client, reason)


def _kind(mail: Mail, classification: Classification, rules: RuleResult) -> MailClass:
    """The class, where rules and what the mail plainly is override the headers' conventions."""
    if rules.treat_as_alert and classification.kind != MailClass.BOUNCE:
        return MailClass.ALERT
    if classification.heuristic:
        # Only a convention (Precedence: bulk, X-Auto-Response-Suppress) says "automatic".
        # PSAs and monitoring tools set those on real work: a mail with the client's
        # PSA ticket number, or a recognised monitoring alert, is work.
        if mail.psa_number:
            return MailClass.REGULAR
        parsed = mail.parsed
        if alerts.detect_preset(parsed.from_address, parsed.subject, parsed.text):
            return MailClass.ALERT
    return classification.kind


def _after_rules(mail: Mail, rules: RuleResult) -> IntakeResult:
    classification = classify(mail.parsed)
    kind = _kind(mail, classification, rules)
    if kind in (MailClass.AUTO_REPLY, MailClass.BOUNCE):
        return _machine_answer(mail, kind, classification.reason)
    if rules.suppress:
        return IntakeResult(
            IntakeOutcome.SUPPRESSED, None, mail.client, f"rule: {', '.join(rules.matched)}"
        )
    signature = fold.alert_signature(
        mail.parsed, is_alert=kind == MailClass.ALERT, rule_pattern=rules.fingerprint_pattern
    )
    if signature and mail.psa_number:
        # Alerts the MSP's PSA relays under its own ticket numbers fold per PSA ticket.
        signature = replace(
            signature, fingerprint=alerts.bounded(f"{signature.fingerprint}#psa:{mail.psa_number}")
        )
    return _thread(mail, signature) or _fold(mail, signature) or _create(mail, rules, signature)


def _machine_answer(mail: Mail, kind: MailClass, why: str) -> IntakeResult:
    """Auto-replies and bounces never open a ticket: a note on the one they answer, if any."""
    extra = returned_message_ids(mail.parsed) if kind == MailClass.BOUNCE else []
    ticket, how = find_ticket(mail.client, mail.parsed, extra, psa_number=mail.psa_number)
    if ticket is None:
        return IntakeResult(IntakeOutcome.SUPPRESSED, None, mail.client, why)
    message_kind = MessageKind.BOUNCE if kind == MailClass.BOUNCE else MessageKind.AUTO_REPLY
    actions.add_mail_to_ticket(
        ticket, mail.parsed, mail.inbound, message_kind, reopen=False, how=how
    )
    return IntakeResult(IntakeOutcome.THREADED, ticket, mail.client, f"{why}; noted ({how})")


def _thread(mail: Mail, signature: alerts.AlertSignature | None) -> IntakeResult | None:
    ticket, how = find_ticket(mail.client, mail.parsed, psa_number=mail.psa_number)
    if ticket is None:
        return None
    if signature and ticket.fingerprint == signature.fingerprint and ticket.is_open:
        actions.fold_alert(ticket, mail.parsed, mail.inbound, signature=signature)
        return IntakeResult(IntakeOutcome.FOLDED, ticket, mail.client, f"same alert ({how})")
    if signature and signature.recovery:
        # A recovery is news, not work: it never reopens what was resolved.
        actions.add_mail_to_ticket(
            ticket, mail.parsed, mail.inbound, MessageKind.RECOVERY, reopen=False, how=how
        )
        return IntakeResult(IntakeOutcome.THREADED, ticket, mail.client, f"recovery ({how})")
    actions.add_mail_to_ticket(ticket, mail.parsed, mail.inbound, how=how)
    return IntakeResult(IntakeOutcome.THREADED, ticket, mail.client, f"matched by {how}")


def _fold(mail: Mail, signature: alerts.AlertSignature | None) -> IntakeResult | None:
    if signature is None:
        return None
    open_ticket = fold.open_ticket_for(mail.client, signature.fingerprint)
    if open_ticket:
        actions.fold_alert(open_ticket, mail.parsed, mail.inbound, signature=signature)
        reason = f"{signature.preset} fingerprint {signature.fingerprint}"
        return IntakeResult(IntakeOutcome.FOLDED, open_ticket, mail.client, reason)
    if signature.recovery:
        reason = "recovery for an alert with no open ticket"
        return IntakeResult(IntakeOutcome.SUPPRESSED, None, mail.client, reason)
    return None


def _create(mail: Mail, rules: RuleResult, signature: alerts.AlertSignature | None) -> IntakeResult:
    fields = actions.NewTicketFields(
        impact=rules.impact,
        urgency=rules.urgency,
        category=rules.category,
        psa_ticket_number=mail.psa_number,
        outside_coverage=not mail.covered,
        is_alert=signature is not None,
        fingerprint=signature.fingerprint if signature else "",
    )
    message_kind = MessageKind.ALERT if signature else MessageKind.MAIL
    ticket = actions.create_ticket_from_mail(
        mail.client, mail.parsed, mail.inbound, fields, message_kind
    )
    reason = f"mail {mail.via}" + ("" if mail.covered else "; outside our coverage")
    if rules.matched:
        reason += f"; rules: {', '.join(rules.matched)}"
    if rules.timed_out:
        reason += f"; rules skipped, their patterns ran too long: {', '.join(rules.timed_out)}"
    return IntakeResult(IntakeOutcome.CREATED, ticket, mail.client, reason)
