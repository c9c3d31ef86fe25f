"""The MSP's own ticket number: what time is written back against in its PSA."""

from django.core.exceptions import PermissionDenied
from django.db import transaction

from ..models import Ticket
from .base import Actor, record_event

NUMBER_MAX = Ticket._meta.get_field("psa_ticket_number").max_length


def set_psa_ticket_number(ticket: Ticket, number: str, actor: Actor) -> Ticket:
    """An SDM sets (or corrects) the MSP's ticket number, e.g. for an alert that came
    without one once the MSP has opened a ticket for it; failed write-backs of the
    ticket's time can then be retried."""
    if actor.user is not None and not actor.user.has_perm("tickets.change_ticket"):
        raise PermissionDenied("Only a service desk manager may set the MSP's ticket number.")
    number = number.strip()
    if not number:
        raise ValueError("Give the MSP's ticket number, as their PSA shows it.")
    if len(number) > NUMBER_MAX:
        raise ValueError(f"A ticket number has at most {NUMBER_MAX} characters.")
    with transaction.atomic():
        ticket = Ticket.objects.select_for_update().get(pk=ticket.pk)
        old = ticket.psa_ticket_number
        if old == number:
            return ticket
        ticket.psa_ticket_number = number
        ticket.save(update_fields=["psa_ticket_number", "updated_at"])
        record_event(
            ticket, actor, "psa_ticket_number_set", old={"number": old}, new={"number": number}
        )
        return ticket
