"""Which tickets an agent may see and work, and the order the queue shows them in."""

from django.db.models import F, Q, QuerySet

from clients.models import Client

from .models import Agent, Ticket
from .models.ticket import OPEN_STATUSES

# Priority first (P1 before P4), then the SLA deadline (none last), then age. Plain
# columns in the order of the partial indexes on Ticket, so the database walks an
# index instead of sorting the open tickets.
QUEUE_ORDER = (
    F("priority").asc(),
    F("sla_next_due").asc(nulls_last=True),
    F("created_at").asc(),
    F("id").asc(),
)


def client_ids_of(agent: Agent) -> list[int]:
    """The clients the agent's teams serve (read once per agent object)."""
    if not hasattr(agent, "_client_ids"):
        agent._client_ids = list(
            Client.objects.filter(teams__agents=agent).values_list("pk", flat=True).distinct()
        )
    return agent._client_ids


def visible_to(agent: Agent) -> QuerySet[Ticket]:
    """The tickets of the clients the agent's teams serve.

    The ids go in as a literal list, not a subquery: with it the planner sees how
    few clients match and walks the queue index instead of sorting them all.
    """
    return Ticket.objects.filter(client_id__in=client_ids_of(agent))


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
