"""Queue and claims at scale: 200,000 tickets across 500 clients, against raw-SQL floors.

Seeds a throwaway copy of the database DATABASE_URL names (bulk inserts, with a
progress bar), then measures:

- the team-queue page's server time for an agent (p50, p95), through the Django
  test client, against the floor: the same queue query as raw SQL;
- take-next claims per second with 1, 4 and 16 concurrent claimers (threads, each
  with its own connection), and double claims (must be 0), against the floor: a
  raw FOR UPDATE SKIP LOCKED claim loop.

Claims need PostgreSQL; on SQLite only the queue figures are measured. A
benchmark, not a test: it prints figures, the last line a JSON object.

    .venv/bin/python bench/queue.py [--tickets N] [--clients N] [--seconds S]
"""

import sys
from pathlib import Path

# This file is named like the stdlib's `queue`, which threads import: the script's
# folder must not shadow it, so the repo root takes its place on the path.
REPO = Path(__file__).resolve().parent.parent
sys.path[0] = str(REPO)

import argparse
import json
import os
import random
import statistics
import threading
import time
from datetime import timedelta

from bench.figures import percentile, progress

OPEN = ("new", "open", "waiting")
CLAIMER_COUNTS = (1, 4, 16)
TEAM_CLIENTS = 50  # the queue page's agent serves this many clients


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--tickets", type=int, default=200_000)
    parser.add_argument("--clients", type=int, default=500)
    parser.add_argument("--pages", type=int, default=200, help="queue page requests to time")
    parser.add_argument("--seconds", type=float, default=5.0, help="per claim measurement")
    return parser.parse_args()


def seed(n_tickets: int, n_clients: int) -> None:
    from django.utils import timezone
    from tqdm import tqdm

    from clients.models import Client
    from tickets.models import Ticket

    rng = random.Random(42)
    clients = Client.objects.bulk_create(
        Client(name=f"Bench MSP {i}", slug=f"bench-{i}") for i in range(n_clients)
    )
    now = timezone.now()
    batch = 5_000
    with tqdm(total=n_tickets, unit="ticket", file=sys.stderr, desc="seeding") as bar:
        for start in range(0, n_tickets, batch):
            rows = []
            for _ in range(min(batch, n_tickets - start)):
                created = now - timedelta(minutes=rng.randint(0, 60 * 24 * 30))
                status = rng.choices(["new", "open", "waiting", "resolved"], [5, 3, 1, 3])[0]
                rows.append(
                    Ticket(
                        client=clients[rng.randrange(n_clients)],
                        subject=f"Bench ticket {start + len(rows)}",
                        status=status,
                        priority=f"P{rng.choices([1, 2, 3, 4], [1, 3, 8, 6])[0]}",
                        created_at=created,
                        sla_next_due=created + timedelta(hours=rng.randint(1, 72))
                        if rng.random() < 0.8
                        else None,
                    )
                )
            Ticket.objects.bulk_create(rows)
            bar.update(len(rows))
    progress("analysing ...")
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")


def make_agent(name: str, clients, cap: int):
    from django.contrib.auth import get_user_model

    from tickets.models import Agent, Team

    user = get_user_model().objects.create_user(name, password="bench-pass-1")
    team = Team.objects.create(name=f"team {name}")
    team.clients.add(*clients)
    agent = Agent.objects.create(user=user, max_open_tickets=cap, presence="available")
    agent.teams.add(team)
    return agent


def time_queue_page(agent, pages: int) -> tuple[list[float], list[float]]:
    """Server time of /desk/queue/ (test client) and of its main query as raw SQL."""
    from django.db import connection
    from django.test import Client as HttpClient

    from tickets.queue import QUEUE_ORDER, visible_to

    http = HttpClient()
    http.force_login(agent.user)
    http.get("/desk/queue/")  # warm up
    page_ms = []
    for _ in range(pages):
        started = time.perf_counter()
        response = http.get("/desk/queue/")
        page_ms.append((time.perf_counter() - started) * 1000)
        assert response.status_code == 200
    query = (
        visible_to(agent)
        .filter(status__in=OPEN)
        .select_related("client", "assignee__user")
        .order_by(*QUEUE_ORDER)[:50]
    )
    sql, params = query.query.sql_with_params()
    floor_ms = []
    with connection.cursor() as cursor:
        for _ in range(pages):
            started = time.perf_counter()
            cursor.execute(sql, params)
            cursor.fetchall()
            floor_ms.append((time.perf_counter() - started) * 1000)
    return page_ms, floor_ms


FLOOR_CLAIM = """
    SELECT id FROM tickets_ticket
    WHERE assignee_id IS NULL AND status IN ('new', 'open', 'waiting')
    ORDER BY priority, sla_next_due NULLS LAST, created_at, id
    LIMIT 1 FOR UPDATE SKIP LOCKED
"""


def run_claimers(agents, seconds: float, floor: bool) -> list[int]:
    """Each agent claims in its own thread for `seconds`; returns every claimed id."""
    from django.db import connection, connections, transaction

    from tickets.actions import claim_next_ticket

    claimed: list[list[int]] = [[] for _ in agents]
    barrier = threading.Barrier(len(agents))

    def work(i: int, agent) -> None:
        try:
            barrier.wait()
            deadline = time.perf_counter() + seconds
            while time.perf_counter() < deadline:
                if floor:
                    with transaction.atomic(), connection.cursor() as cursor:
                        cursor.execute(FLOOR_CLAIM)
                        row = cursor.fetchone()
                        if row is None:
                            break
                        cursor.execute(
                            "UPDATE tickets_ticket SET assignee_id = %s WHERE id = %s",
                            [agent.pk, row[0]],
                        )
                    claimed[i].append(row[0])
                else:
                    ticket = claim_next_ticket(agent)
                    if ticket is None:
                        break
                    claimed[i].append(ticket.pk)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=work, args=(i, a)) for i, a in enumerate(agents)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return [pk for mine in claimed for pk in mine]


def reset_claims(agents) -> None:
    from tickets.models import Ticket, TicketEvent

    Ticket.objects.filter(assignee__in=agents).update(assignee=None, status="new")
    TicketEvent.objects.filter(kind__in=["claimed", "status_changed"]).delete()


def measure_claims(agents, seconds: float) -> dict:
    figures: dict = {}
    double_claims = 0
    for n in CLAIMER_COUNTS:
        for floor in (False, True):
            ids = run_claimers(agents[:n], seconds, floor)
            reset_claims(agents)
            double_claims += len(ids) - len(set(ids))
            key = f"claims_{'floor_' if floor else ''}per_s_{n}"
            figures[key] = round(len(ids) / seconds, 1)
            progress(f"{n:>2} claimer(s), {'floor' if floor else 'take next'}: {figures[key]}/s")
    figures["double_claims"] = double_claims
    figures["claims_ratio"] = round(
        figures["claims_per_s_16"] / figures["claims_floor_per_s_16"], 3
    )
    return figures


def main() -> None:
    args = parse_args()
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "helpdesk.settings")
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"  # threads share nothing; tqdm is sync
    from bench.throwaway import throwaway_database

    # No job queue: claiming never enqueues, and seeding runs no intake.
    with throwaway_database("benchq", REDIS_URL="") as connection:
        report(args, connection.vendor)


def report(args, vendor: str) -> None:
    from clients.models import Client

    seed(args.tickets, args.clients)
    clients = list(Client.objects.order_by("pk"))
    reader = make_agent("bench-reader", clients[:TEAM_CLIENTS], cap=10)
    page_ms, floor_ms = time_queue_page(reader, args.pages)
    figures = {
        "tickets": args.tickets,
        "clients": args.clients,
        "database": vendor,
        "queue_p50_ms": round(statistics.median(page_ms), 2),
        "queue_p95_ms": round(percentile(page_ms, 95), 2),
        "queue_floor_p50_ms": round(statistics.median(floor_ms), 2),
        "queue_floor_p95_ms": round(percentile(floor_ms, 95), 2),
    }
    print(f"{args.tickets} tickets across {args.clients} clients on {vendor}")
    print(f"queue page ({TEAM_CLIENTS} clients' tickets, 50 a page), {args.pages} requests:")
    print(f"  page   p50 {figures['queue_p50_ms']:7.2f} ms   p95 {figures['queue_p95_ms']:7.2f} ms"
          "   (goal: p95 <= 25 ms)")  # fmt: skip
    print(f"  floor  p50 {figures['queue_floor_p50_ms']:7.2f} ms   p95 "
          f"{figures['queue_floor_p95_ms']:7.2f} ms   (the same query, raw SQL)")  # fmt: skip
    if vendor == "postgresql":
        agents = [make_agent(f"bench-claimer-{n}", clients, cap=32_000) for n in range(16)]
        figures.update(measure_claims(agents, args.seconds))
        print(f"take next, {args.seconds:.0f} s each (goal: >= 50% of the floor, 0 double claims):")
        for n in CLAIMER_COUNTS:
            print(f"  {n:>2} claimers: {figures[f'claims_per_s_{n}']:8.1f}/s   "
                  f"floor {figures[f'claims_floor_per_s_{n}']:8.1f}/s")  # fmt: skip
        print(
            f"  ratio at 16: {figures['claims_ratio']}   double claims: {figures['double_claims']}"
        )
    else:
        print("claims: skipped (concurrent claims need PostgreSQL; set DATABASE_URL)")
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
