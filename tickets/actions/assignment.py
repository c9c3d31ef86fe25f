"""Who works a ticket: an agent takes the next one, the SDM assigns, or a strategy does.

Every path ends in `_give`, a conditional UPDATE ("still unassigned?"), so two
claimers can never both win a ticket, on PostgreSQL or SQLite. On PostgreSQL the
candidate is read with FOR UPDATE SKIP LOCKED, so concurrent claimers pass each
other instead of queueing on the same row.
"""

from django.core.exceptions import PermissionDenied
from django.db import connection, transaction
from django.db.models import Count, F, Q, Value
from django.db.models.functions import Coalesce
from django.utils import timezone

from ..models import Agent, AssignmentStrategy, Presence, Team, Ticket, TicketStatus
from ..models.ticket import OPEN_STATUSES
from ..queue import QUEUE_ORDER, client_ids_of, held_by, workable_by
from .base import Actor, record_event

SYSTEM = Actor("auto-assign")
_CLAIM_TRIES = 5


class CapReached(Exception):
    """The agent already holds as many open tickets as it may."""


def _give(ticket: Ticket, agent: Agent, actor: Actor, kind: str, *, only_if_free: bool) -> bool:
    """Assign inside the caller's transaction, which holds the ticket's row lock (so
    `ticket.status` is current); False if someone else got it first."""
    now = timezone.now()
    rows = Ticket.objects.filter(pk=ticket.pk)
    if only_if_free:
        rows = rows.filter(assignee__isnull=True)
    # A new ticket opens as it is given: one statement, one audit row with both changes.
    opens = ticket.status == TicketStatus.NEW
    # The first time an agent has the ticket is its first response: from then on
    # the queue orders it by its resolution deadline.
    changes = {
        "assignee": agent,
        "updated_at": now,
        "first_responded_at": Coalesce(F("first_responded_at"), Value(now)),
        "sla_next_due": F("resolution_due"),
    }
    if opens:
        changes["status"] = TicketStatus.OPEN
    if not rows.update(**changes):
        return False
    Agent.objects.filter(pk=agent.pk).update(last_assigned_at=now)
    old = {"agent": ticket.assignee_id}
    new = {"agent": agent.pk}
    if opens:
        old["status"], new["status"] = ticket.status, TicketStatus.OPEN
        ticket.status = TicketStatus.OPEN
    ticket.assignee = agent
    record_event(ticket, actor, kind, old=old, new=new)
    return True


def claim_next_ticket(agent: Agent) -> Ticket | None:
    """Give the agent the most urgent unassigned ticket it may work, or None.

    Raises CapReached when the agent already holds its maximum of open tickets.
    """
    actor = Actor.of(agent.user)
    client_ids = client_ids_of(agent)
    if connection.vendor == "postgresql":
        return _claim_in_two_statements(agent, actor, client_ids)
    for _ in range(_CLAIM_TRIES):
        with transaction.atomic():
            # One claim at a time per agent, so two tabs cannot both pass the cap.
            agent = Agent.objects.select_for_update().get(pk=agent.pk)
            agent._client_ids = client_ids
            if held_by(agent).count() >= agent.max_open_tickets:
                raise CapReached(f"{agent} already holds {agent.max_open_tickets} open tickets.")
            candidate = (
                workable_by(agent)
                .filter(assignee__isnull=True)
                .order_by(*QUEUE_ORDER)
                .select_for_update(skip_locked=True, of=("self",))
                .first()
            )
            if candidate is None:
                return None
            if _give(candidate, agent, actor, "claimed", only_if_free=True):
                return candidate
    return None  # lost every race: the queue is being emptied by others


_OPEN_SQL = "(" + ", ".join(f"'{status.value}'" for status in OPEN_STATUSES) + ")"
# The agent's row lock and its load, in one statement.
_LOCK_AGENT = f"""
    SELECT a.max_open_tickets,
           (SELECT count(*) FROM tickets_ticket t
             WHERE t.assignee_id = a.id AND t.status IN {_OPEN_SQL})
      FROM tickets_agent a WHERE a.id = %(agent)s FOR UPDATE OF a
"""
# The pick (QUEUE_ORDER, SKIP LOCKED) and the assignment, in one statement. The
# same rules as workable_by() and _give(): the agent's clients, the skill it
# needs, first response, a new ticket opens.
_PICK_AND_GIVE = f"""
    WITH pick AS (
        SELECT id, status FROM tickets_ticket
         WHERE assignee_id IS NULL AND status IN {_OPEN_SQL}
           AND client_id = ANY(%(clients)s)
           AND (required_skill_id IS NULL OR required_skill_id IN
                (SELECT skill_id FROM tickets_agent_skills WHERE agent_id = %(agent)s))
         ORDER BY priority, sla_next_due NULLS LAST, created_at, id
         LIMIT 1 FOR UPDATE SKIP LOCKED
    )
    , given AS (
        UPDATE tickets_ticket t
           SET assignee_id = %(agent)s, updated_at = %(now)s,
               first_responded_at = COALESCE(t.first_responded_at, %(now)s),
               sla_next_due = t.resolution_due,
               status = CASE WHEN pick.status = 'new' THEN 'open' ELSE t.status END
          FROM pick WHERE t.id = pick.id
        RETURNING t.*, pick.status AS old_status
    ), agent AS (
        UPDATE tickets_agent SET last_assigned_at = %(now)s
         WHERE id = %(agent)s AND EXISTS (SELECT 1 FROM given)
    ), audit AS (
        -- The row record_event() writes, for the kind "claimed".
        INSERT INTO tickets_ticketevent
               (ticket_id, actor_id, actor_label, kind, old_value, new_value, note, created_at)
        SELECT id, %(user)s, %(label)s, 'claimed',
               CASE WHEN old_status = 'new'
                    THEN jsonb_build_object('agent', NULL, 'status', 'new')
                    ELSE jsonb_build_object('agent', NULL) END,
               CASE WHEN old_status = 'new'
                    THEN jsonb_build_object('agent', %(agent)s::bigint, 'status', 'open')
                    ELSE jsonb_build_object('agent', %(agent)s::bigint) END,
               '', %(now)s
          FROM given
    )
    SELECT * FROM given
"""


def _claim_in_two_statements(agent: Agent, actor: Actor, client_ids: list[int]) -> Ticket | None:
    """claim_next_ticket on PostgreSQL: the same decision and audit row as the portable
    path, in two statements (the agent's lock with its load; pick, give and audit),
    for the rate a busy night needs."""
    params = {
        "agent": agent.pk,
        "clients": client_ids,
        "now": timezone.now(),
        "user": actor.user.pk if actor.user else None,
        "label": actor.label[:100],
    }
    with transaction.atomic():
        with connection.cursor() as cursor:
            cursor.execute(_LOCK_AGENT, {"agent": agent.pk})
            cap, held = cursor.fetchone()
        if held >= cap:
            raise CapReached(f"{agent} already holds {cap} open tickets.")
        given = list(Ticket.objects.raw(_PICK_AND_GIVE, params))
    return given[0] if given else None


def assign_ticket(ticket: Ticket, agent: Agent, actor: Actor) -> Ticket:
    """The SDM gives a ticket to an agent (or hands it over from another)."""
    if actor.user is not None and not actor.user.has_perm("tickets.assign_ticket"):
        raise PermissionDenied("Only a service desk manager may assign tickets.")
    if not workable_by(agent).filter(pk=ticket.pk).exists():
        raise ValueError(f"{agent} does not serve {ticket.client} or lacks the skill it needs.")
    with transaction.atomic():
        ticket = Ticket.objects.select_for_update().get(pk=ticket.pk)
        kind = "handed_over" if ticket.assignee_id else "assigned"
        if ticket.assignee_id != agent.pk:
            _give(ticket, agent, actor, kind, only_if_free=False)
        return ticket


def client_assigns_automatically(client) -> bool:
    """Whether a team serving the client assigns by a strategy (else: no job to run)."""
    return (
        Team.objects.filter(clients=client).exclude(assignment=AssignmentStrategy.MANUAL).exists()
    )


def auto_assign(ticket_id: int) -> Agent | None:
    """Assign a new ticket by its client's team strategy (round robin, least loaded),
    to an available agent with the skill and room under its cap. None: left in the queue.

    Safe with many workers at once: the ticket and the chosen agent are locked and
    the agent's load recounted under the lock, so no agent goes over its cap.
    """
    with transaction.atomic():
        ticket = Ticket.objects.select_for_update().select_related("client").get(pk=ticket_id)
        if ticket.assignee_id or ticket.status not in OPEN_STATUSES:
            return None
        teams = Team.objects.filter(clients=ticket.client).exclude(
            assignment=AssignmentStrategy.MANUAL
        )
        for team in teams.order_by("name"):
            agent = _pick(team, ticket)
            if agent is not None:
                _give(
                    ticket, agent, SYSTEM, f"auto_assigned ({team.assignment})", only_if_free=True
                )
                return agent
    return None


def _pick(team: Team, ticket: Ticket) -> Agent | None:
    """The team's next agent for the ticket, locked, with room under its cap."""
    candidates = (
        team.agents.filter(presence=Presence.AVAILABLE)
        .filter(Q(skills=ticket.required_skill) if ticket.required_skill_id else Q())
        .annotate(held=Count("tickets", filter=Q(tickets__status__in=OPEN_STATUSES), distinct=True))
        .filter(held__lt=F("max_open_tickets"))
    )
    if team.assignment == AssignmentStrategy.LEAST_LOADED:
        order = ("held", F("last_assigned_at").asc(nulls_first=True), "pk")
    else:
        order = (F("last_assigned_at").asc(nulls_first=True), "pk")
    for candidate in candidates.order_by(*order).values_list("pk", flat=True)[:20]:
        # Another worker may be giving this agent a ticket right now: skip it then.
        agent = Agent.objects.select_for_update(skip_locked=True).filter(pk=candidate).first()
        if agent is not None and held_by(agent).count() < agent.max_open_tickets:
            return agent
    return None


def release_ticket(ticket: Ticket, agent: Agent) -> Ticket:
    """The agent hands a ticket back to the queue (audited)."""
    with transaction.atomic():
        ticket = Ticket.objects.select_for_update().get(pk=ticket.pk)
        if ticket.assignee_id != agent.pk:
            raise ValueError(f"{ticket.reference} is not yours to hand back.")
        Ticket.objects.filter(pk=ticket.pk).update(assignee=None, updated_at=timezone.now())
        ticket.assignee = None
        record_event(ticket, Actor.of(agent.user), "released", old={"agent": agent.pk}, new=None)
        return ticket


def set_presence(agent: Agent, presence: str) -> Agent:
    if presence not in Presence.values:
        raise ValueError(f"{presence!r} is not a presence.")
    Agent.objects.filter(pk=agent.pk).update(presence=presence)
    agent.presence = presence
    return agent
