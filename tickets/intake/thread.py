"""Stage 4: does this mail continue a ticket we have? Only ever within its own client."""

import re

from clients.models import Client
from desklib.mailparse import ParsedMail

from ..models import Message, Ticket

# Our token, exactly as we write it: "[HD-123]". Nothing looser: other systems'
# numbers in a subject must never be taken for ours.
TOKEN = re.compile(r"\[HD-(\d{1,12})\]")


def find_ticket(
    client: Client,
    parsed: ParsedMail,
    extra_message_ids: list[str] | tuple = (),
    *,
    psa_number: str = "",
) -> tuple[Ticket | None, str]:
    """The client's ticket this mail belongs to, and how it was found ('' if none).

    Tried in order: In-Reply-To and References against the Message-IDs we stored,
    our [HD-n] token, the client's PSA ticket number. Each lookup is filtered by
    client, so another client's Message-ID, token or number never matches.
    """
    ids = [*parsed.thread_ids, *extra_message_ids]
    if ids:
        # In-Reply-To first, then References from the newest: the first known id wins.
        known = dict(
            Message.objects.filter(client=client, message_id__in=ids)
            .order_by("id")
            .values_list("message_id", "ticket_id")
        )
        ticket_id = next((known[i] for i in ids if i in known), None)
        if ticket_id:
            return Ticket.objects.get(pk=ticket_id), "references"
    numbers = [int(n) for n in TOKEN.findall(parsed.subject)]
    if numbers:
        ticket = Ticket.objects.filter(client=client, pk__in=numbers).order_by("-id").first()
        if ticket:
            return ticket, "token"
    psa_number = psa_number or client.find_psa_ticket_number(parsed.subject)
    if psa_number:
        ticket = (
            Ticket.objects.filter(client=client, psa_ticket_number=psa_number)
            .order_by("-id")
            .first()
        )
        if ticket:
            return ticket, "psa-number"
    return None, ""
