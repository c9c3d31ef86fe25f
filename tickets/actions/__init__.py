"""Every change of a ticket's state goes through a function here (DESIGN.md, "one door").

Each runs in a transaction, locks the ticket it changes, and writes a TicketEvent
with the actor and the old and new values. The intake's actions (mail.py) join
the intake's transaction without a savepoint: if one fails, the whole decision
is rolled back and retried, never half-applied. The others keep their savepoint,
so a refusal (a ValidationError) leaves the caller's transaction usable.
"""

from .assignment import (
    CapReached,
    assign_ticket,
    auto_assign,
    claim_next_ticket,
    release_ticket,
    set_presence,
)
from .base import INTAKE, INTAKE_ACTOR, Actor, record_event
from .mail import (
    NewTicketFields,
    StaleDecision,
    add_mail_to_ticket,
    create_ticket_from_mail,
    fold_alert,
    record_message,
)
from .priority import override_priority
from .reference import set_psa_ticket_number
from .status import change_status
from .time import change_time, record_time, void_time
from .work import add_note, clear_timer, resolve_ticket, start_timer, stop_timer

__all__ = [
    "CapReached",
    "assign_ticket",
    "auto_assign",
    "claim_next_ticket",
    "release_ticket",
    "set_presence",
    "INTAKE",
    "INTAKE_ACTOR",
    "Actor",
    "NewTicketFields",
    "StaleDecision",
    "add_mail_to_ticket",
    "change_status",
    "create_ticket_from_mail",
    "fold_alert",
    "override_priority",
    "set_psa_ticket_number",
    "record_event",
    "record_message",
    "change_time",
    "record_time",
    "void_time",
    "add_note",
    "clear_timer",
    "resolve_ticket",
    "start_timer",
    "stop_timer",
]
