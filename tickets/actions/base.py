"""Who acts, and the audit trail every action writes."""

from dataclasses import dataclass
from typing import Any

from ..models import (
    Ticket,
    TicketEvent,
)

INTAKE = "intake"


@dataclass(frozen=True)
class Actor:
    """Who did it: a user, or a named part of the system."""

    label: str
    user: Any = None

    @classmethod
    def of(cls, user) -> "Actor":
        return cls(label=user.get_username(), user=user)


INTAKE_ACTOR = Actor(INTAKE)


def record_event(
    ticket: Ticket, actor: Actor, kind: str, old: Any = None, new: Any = None, note: str = ""
) -> TicketEvent:
    return TicketEvent.objects.create(
        ticket=ticket,
        actor=actor.user,
        actor_label=actor.label[:100],
        kind=kind,
        old_value=old,
        new_value=new,
        note=note,
    )
