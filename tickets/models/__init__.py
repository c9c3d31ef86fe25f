from .event import TicketEvent
from .inbound import InboundMail, InboundStatus, IntakeOutcome
from .message import Attachment, Message, MessageKind
from .ticket import AlertState, Source, Ticket, TicketStatus

__all__ = [
    "AlertState",
    "Attachment",
    "InboundMail",
    "InboundStatus",
    "IntakeOutcome",
    "Message",
    "MessageKind",
    "Source",
    "Ticket",
    "TicketEvent",
    "TicketStatus",
]
