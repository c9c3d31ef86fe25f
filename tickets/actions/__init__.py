"""Every change of a ticket's state goes through a function here (DESIGN.md, "one door").

Each runs in a transaction, locks the ticket it changes, and writes a TicketEvent
with the actor and the old and new values. Called inside a caller's transaction
(the intake's), an action joins it without a savepoint: if it fails, the whole
decision is rolled back and retried, never half-applied.
"""

from .assignment import CapReached, assign_ticket, auto_assign, claim_next_ticket
from .base import INTAKE, INTAKE_ACTOR, Actor, record_event
from .mail import (
    NewTicketFields,
    add_mail_to_ticket,
    create_ticket_from_mail,
    fold_alert,
    record_message,
)
from .priority import override_priority
from .status import change_status

__all__ = [
    "CapReached",
    "assign_ticket",
    "auto_assign",
    "claim_next_ticket",
    "INTAKE",
    "INTAKE_ACTOR",
    "Actor",
    "NewTicketFields",
    "add_mail_to_ticket",
    "change_status",
    "create_ticket_from_mail",
    "fold_alert",
    "override_priority",
    "record_event",
    "record_message",
]
