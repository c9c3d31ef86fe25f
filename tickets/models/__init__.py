from .agent import Agent, AssignmentStrategy, Presence, Skill, Team
from .event import TicketEvent
from .inbound import InboundMail, InboundStatus, IntakeOutcome
from .message import Attachment, Message, MessageKind
from .priority import PriorityMatrixCell, priority_for
from .ticket import AlertState, Priority, Source, Ticket, TicketStatus
from .time_entry import TimeEntry, WorkType
from .work import InternalNote, RunningTimer

__all__ = [
    "Agent",
    "AssignmentStrategy",
    "Presence",
    "Skill",
    "Team",
    "AlertState",
    "Attachment",
    "InboundMail",
    "InboundStatus",
    "InternalNote",
    "RunningTimer",
    "IntakeOutcome",
    "Message",
    "MessageKind",
    "Priority",
    "PriorityMatrixCell",
    "Source",
    "Ticket",
    "TicketEvent",
    "TicketStatus",
    "TimeEntry",
    "WorkType",
    "priority_for",
]
