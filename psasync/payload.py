"""Data minimisation, enforced here and only here: what may leave for the MSP's PSA.

`build_payload` reads exactly these from our data: the MSP's ticket number, the
entry's start, end and duration, the member our agent is in that PSA, the brief
summary, the billable flag and the connection's configured codes. Nothing else
of the ticket (no mail, priority, SLA, notes or attachments), nothing of any other
ticket, and never the entry's private notes, can reach a connector.
"""

from datetime import UTC
from decimal import ROUND_HALF_UP, Decimal

from .connectors.base import NotReady, TimePayload
from .models import BillableOption, MemberMapping, WriteBack

TWO_PLACES = Decimal("0.01")


def build_payload(writeback: WriteBack) -> TimePayload:
    """The payload for `writeback` as its entry stands now; NotReady with what
    the SDM must fix when something the PSA needs is missing."""
    entry = writeback.entry
    connection = writeback.connection
    number = (entry.ticket.psa_ticket_number or "").strip()
    if not number:
        raise NotReady(
            f"{entry.ticket.reference} has no PSA ticket number (none was found in the MSP's "
            'mail): set it on the ticket (Tickets, action "Set the MSP\'s ticket number"),'
            " then retry."
        )
    member = (
        MemberMapping.objects.filter(connection=connection, agent_id=entry.agent_id)
        .values_list("member", flat=True)
        .first()
    )
    if not member:
        raise NotReady(
            f"{entry.agent} has no {connection.get_kind_display()} member for "
            f"{connection.client}: map them on the connection, then retry."
        )
    billable = {
        BillableOption.ALWAYS: True,
        BillableOption.NEVER: False,
    }.get(connection.billable, entry.billable)
    hours = Decimal(entry.duration.total_seconds()) / Decimal(3600)
    return TimePayload(
        marker=writeback.marker,
        ticket_number=number,
        member=member,
        started_at=entry.started_at.astimezone(UTC),
        ended_at=entry.ended_at.astimezone(UTC),
        hours=hours.quantize(TWO_PLACES, rounding=ROUND_HALF_UP),
        summary=entry.summary,
        work_type=connection.work_type,
        role=connection.role,
        billing_code=connection.billing_code,
        billable=billable,
    )
