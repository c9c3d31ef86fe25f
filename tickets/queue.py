"""Which tickets an agent may see and work, and the order the queue shows them in."""

from django.db.models import Case, F, Q, QuerySet, Value, When

from clients.models import Client

from .models import Agent, Ticket
from .models.ticket import OPEN_STATUSES

# Priority first (P1 before P4, none last), then the SLA deadline (none last), then age.
QUEUE_ORDER = (
    Case(When(priority="", then=Value("P9")), default=F("priority")).asc(),
    F("sla_next_due").asc(nulls_last=True),
    F("created_at").asc(),
    F("id").asc(),
)


def visible_to(agent: Agent) -> QuerySet[Ticket]:
    """The tickets of the clients the agent's teams serve."""
    clients = Client.objects.filter(teams__agents=agent).values("pk")
    return Ticket.objects.filter(client_id__in=clients)


def workable_by(agent: Agent) -> QuerySet[Ticket]:
    """Open tickets the agent may take: its teams' clients, and a skill it has if one is needed."""
    skills = agent.skills.values("pk")
    return (
        visible_to(agent)
        .filter(status__in=OPEN_STATUSES)
        .filter(Q(required_skill__isnull=True) | Q(required_skill__in=skills))
    )


def held_by(agent: Agent) -> QuerySet[Ticket]:
    return Ticket.objects.filter(assignee=agent, status__in=OPEN_STATUSES)
