"""PSA write-back: time entries through the outbox and real RQ workers to faulty, rate-limited PSAs.

Records time entries across many clients with tickets.actions.record_time (the real
outbox path: a WriteBack row in the entry's transaction, its job queued on commit), on
a throwaway copy of the PostgreSQL database DATABASE_URL names. Then real `manage.py
rqworker psa --with-scheduler` processes (as `make worker-psa` runs them) start and
send them to in-process ConnectWise simulators, one per client (each its own tenant
with its own rate limit), with latency, 500s and writes applied whose answer is lost.
The sweeper runs every minute, as cron runs it. A second phase, with the same set-up
but no faults and no rate limit, measures what the set-up can do; the limit binds
when that is more than the limit. Then it counts, from the simulators' own entries,
what never arrived and what arrived twice.

Needs PostgreSQL and Redis (worker processes share them): without DATABASE_URL
(postgres://) and REDIS_URL it says so and stops. A benchmark, not a test: it prints
figures, the last line a JSON object. See bench/README.md.

    .venv/bin/python bench/writeback.py [--entries N] [--clients N] [--workers N] [--quick]
"""

import sys
from pathlib import Path

# bench/queue.py is named like the stdlib's `queue`, which threads import: the
# script's folder must not shadow it, so the repo root takes its place on the path.
REPO = Path(__file__).resolve().parent.parent
sys.path[0] = str(REPO)

import argparse
import dataclasses
import json
import math
import os
import re
import secrets
import signal
import statistics
import subprocess
import tempfile
import threading
import time
from collections import Counter
from datetime import timedelta

from bench.figures import percentile, progress

KIND = "connectwise"
QUEUE = "psa"
SLOT = timedelta(minutes=20)  # one entry per agent per slot: entries never overlap
ENTRY = timedelta(minutes=15)
UNLIMITED = 1_000_000  # requests per window on a connection: no limit in practice
GOAL = 0.9
IN_PROCESS = "rq.worker.SimpleWorker"
# What send_writeback returned, as rq logs it (-v 2): an AttemptOutcome, or "skipped".
JOB_RESULT = re.compile(rb"result: (?:AttemptOutcome\.(\w+)|'(\w+)')")


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    add = parser.add_argument
    add("--entries", type=int, default=5000, help="with faults and the limit (5000)")
    add("--fault-free-entries", type=int, default=1000, help="without either (1000)")
    add("--clients", type=int, default=20, help="each its own PSA tenant (20)")
    add("--entries-per-ticket", type=int, default=2, help="(2)")
    add("--workers", type=int, default=8, help="rqworker processes (8)")
    add(
        "--worker-class",
        default=IN_PROCESS,
        help=f"rqworker --worker-class ({IN_PROCESS}, as `make worker-psa`; '': rq's"
        " default, a fork per job)",
    )
    add("--recorders", type=int, default=4, help="threads calling record_time (4)")
    add("--latency", type=float, default=0.05, help="seconds per PSA request (0.05)")
    add("--error-rate", type=float, default=0.05, help="requests answered 500 (0.05)")
    add("--lost-rate", type=float, default=0.02, help="writes applied, answer lost (0.02)")
    add(
        "--requests",
        type=int,
        default=60,
        help="per tenant per window (60: 1/s, as HaloPSA's 300 per 5 min); 0: no limit",
    )
    add("--window", type=int, default=60, help="seconds (60)")
    add("--sweep-every", type=float, default=60.0, help="seconds, as cron (60); 0: never")
    add("--stall", type=float, default=300.0, help="give up after this long without a send")
    add(
        "--quick",
        action="store_true",
        help="a smoke run: 40 entries (20 fault-free), 4 clients, 2 workers, 12 requests"
        " per 2 s per tenant",
    )
    args = parser.parse_args()
    if args.quick:
        args.entries, args.fault_free_entries, args.clients, args.workers = 40, 20, 4, 2
        args.requests, args.window, args.stall = 12, 2, 120.0
    return args


def missing_services() -> str:
    """Why this machine cannot run it ("" when it can)."""
    if not os.environ.get("DATABASE_URL", "").startswith(("postgres://", "postgresql://")):
        return "DATABASE_URL must name a PostgreSQL database (the workers share it)"
    if not os.environ.get("REDIS_URL"):
        return "REDIS_URL must be set (the psa queue and the rate limits live in Redis)"
    return ""


# --- the cast: clients, their PSAs, agents, tickets ---------------------------------------


def tickets_for(args, entries: int) -> int:
    """Tickets per client for a phase of `entries`: --entries-per-ticket entries each."""
    return math.ceil(math.ceil(entries / args.clients) / args.entries_per_ticket)


def build_cast(args, simulators: dict) -> list[dict]:
    """Per client: its simulator, connection, agent (mapped to a member) and tickets."""
    from django.contrib.auth import get_user_model

    from clients.models import Client
    from psasync.models import MemberMapping, PsaConnection
    from tickets.models import Agent, Team, Ticket

    per_client = tickets_for(args, args.entries) + tickets_for(args, args.fault_free_entries)
    cast = []
    for i, (name, sim) in enumerate(simulators.items()):
        client = Client.objects.create(name=f"Bench MSP {i}", slug=name, psa_kind=KIND)
        connection = PsaConnection.objects.create(
            client=client, kind=KIND, base_url=sim.base_url, credentials=sim.credentials()
        )
        team = Team.objects.create(name=f"team {name}")
        team.clients.add(client)
        user = get_user_model().objects.create_user(f"agent-{name}", password="bench-pass-1")
        agent = Agent.objects.create(user=user, presence="available")
        agent.teams.add(team)
        MemberMapping.objects.create(connection=connection, agent=agent, member=f"m{i}")
        numbers = [str(100_000 * (i + 1) + n) for n in range(per_client)]
        for number in numbers:
            sim.add_ticket(number)
        tickets = Ticket.objects.bulk_create(
            Ticket(client=client, subject=f"Bench ticket {n}", psa_ticket_number=n, status="open")
            for n in numbers
        )
        cast.append({"name": name, "sim": sim, "agent": agent, "tickets": tickets, "slots": 0})
    return cast


def set_limit(cast: list[dict], requests: int, window: int) -> None:
    """The same limit at the simulators and on our connections (0: none at either)."""
    from psasync.models import PsaConnection
    from psasync.simulator import Limits

    for member in cast:
        member["sim"].limits = Limits(requests=requests or None, per_seconds=window)
    PsaConnection.objects.update(rate_limit=requests or UNLIMITED, rate_window_seconds=window)


def record_entries(cast: list[dict], count: int, tickets: slice, threads: int) -> float:
    """`count` entries, round robin over the clients and, within a client, over its
    `tickets`; each through record_time in its own transaction (its job queued on
    commit), by `threads` recorders, each owning whole clients (record_time locks the
    agent). Returns the seconds it took."""
    from django.db import connections
    from django.utils import timezone

    from tickets.actions import record_time

    base = timezone.now() - timedelta(days=29)
    plan: list[list[tuple]] = [[] for _ in range(threads)]
    for k in range(count):
        member = cast[k % len(cast)]
        mine = member["tickets"][tickets]
        end = base + member["slots"] * SLOT
        member["slots"] += 1
        ticket = mine[(k // len(cast)) % len(mine)]
        summary = f"Bench entry {k}: checked the backups."
        plan[k % len(cast) % threads].append((ticket, member["agent"], end - ENTRY, end, summary))
    failures: list[BaseException] = []

    def record(calls: list[tuple]) -> None:
        try:
            for call in calls:
                record_time(*call)
        except BaseException as exc:  # raised again by the main thread
            failures.append(exc)
        finally:
            connections.close_all()

    recorders = [threading.Thread(target=record, args=(calls,)) for calls in plan]
    started = time.perf_counter()
    for thread in recorders:
        thread.start()
    for thread in recorders:
        thread.join()
    if failures:
        raise failures[0]
    return time.perf_counter() - started


# --- the workers ---------------------------------------------------------------------


def database_url(connection) -> str:
    s = connection.settings_dict
    auth = s["USER"] + (f":{s['PASSWORD']}" if s["PASSWORD"] else "")
    return f"postgres://{auth}@{s['HOST'] or '127.0.0.1'}:{s['PORT'] or 5432}/{s['NAME']}"


def empty_psa_queue() -> int:
    """Only our queue: jobs left by an earlier run or phase would name rows of another
    database, or rows already settled. Returns how many jobs were waiting."""
    import django_rq

    queue = django_rq.get_queue(QUEUE)
    registry = queue.scheduled_job_registry
    waiting = queue.count + registry.count
    queue.empty()
    for job_id in registry.get_job_ids():
        registry.remove(job_id, delete_job=True)
    redis = django_rq.get_connection(QUEUE)
    for pattern in ("psa:slot:*", "psa:turn:*"):  # slots and lines a killed run left
        for key in redis.scan_iter(pattern):
            redis.delete(key)
    return waiting


class Workers:
    """`count` rqworker processes on the psa queue, logging each job's result to a file."""

    def __init__(self, count: int, env: dict, logs: Path, worker_class: str | None) -> None:
        self.count, self.env, self.logs, self.worker_class = count, env, logs, worker_class
        self.processes: list[subprocess.Popen] = []
        self.starts = 0

    def start(self):
        """Start them; returns the time (aware) at which all were ready for jobs."""
        import django_rq
        from django.utils import timezone
        from rq import Worker

        self.processes = []
        self.starts += 1
        self.prefix = f"benchwb-{os.getpid()}-{self.starts}"  # names unique per start

        for i in range(self.count):
            command = [sys.executable, "manage.py", "rqworker", QUEUE, "--with-scheduler"]
            command += ["--name", f"{self.prefix}-{i}", "-v", "2"]
            if self.worker_class:
                command += ["--worker-class", self.worker_class]
            with open(self.logs / f"worker-{i}.log", "ab") as log:
                self.processes.append(
                    subprocess.Popen(command, cwd=REPO, env=self.env, stdout=log, stderr=log)
                )
        queue = django_rq.get_queue(QUEUE)
        deadline = time.monotonic() + 120
        while True:
            ready = [w for w in Worker.all(queue=queue) if w.name.startswith(self.prefix)]
            if len(ready) == self.count:
                return timezone.now()
            if any(p.poll() is not None for p in self.processes) or time.monotonic() > deadline:
                raise RuntimeError(f"{len(ready)}/{self.count} workers started:\n{self.tail()}")
            time.sleep(0.2)

    def stop(self) -> list[int]:
        """Warm shutdown (rq finishes the job in hand), killed after a minute; exit codes."""
        for process in self.processes:
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + 60
        for process in self.processes:
            try:
                process.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        return [process.returncode for process in self.processes]

    def log_sizes(self) -> dict[Path, int]:
        return {path: path.stat().st_size for path in self.logs.glob("worker-*.log")}

    def results_since(self, sizes: dict[Path, int]) -> Counter:
        """What send_writeback returned, job by job, since the log sizes were taken."""
        results: Counter[str] = Counter()
        for path in self.logs.glob("worker-*.log"):
            with path.open("rb") as log:
                log.seek(sizes.get(path, 0))
                found = JOB_RESULT.findall(log.read())
                results.update((outcome or word).decode().lower() for outcome, word in found)
        return results

    def tail(self, lines: int = 15) -> str:
        return "\n".join(
            f"{path.name}: {line}"
            for path in sorted(self.logs.glob("worker-*.log"))
            for line in path.read_text(errors="replace").splitlines()[-lines:]
        )


# --- a phase: record, wait until sent, count --------------------------------------------


def wait_until_sent(after_pk: int, count: int, stall: float, sweep_every: float) -> int:
    """Wait until no write-back of the phase is pending or sending, or none was sent for
    `stall` seconds; runs the sweeper as cron would. Returns how many it queued."""
    from django.db.models import Count
    from tqdm import tqdm

    from psasync.models import WriteBack, WriteBackState
    from psasync.sweeper import requeue_stale_writebacks

    swept, sent, last_change = 0, -1, time.monotonic()
    next_sweep = time.monotonic() + (sweep_every or math.inf)
    quiet = {} if sys.stderr.isatty() else {"mininterval": 30.0}  # a log: a line a while
    with tqdm(total=count, unit="sent", file=sys.stderr, desc="sending", **quiet) as bar:
        while True:
            states = dict(
                WriteBack.objects.filter(pk__gt=after_pk)
                .values_list("state")
                .annotate(n=Count("pk"))
                .values_list("state", "n")
            )
            bar.update(states.get(WriteBackState.SENT, 0) - bar.n)
            if not states.get(WriteBackState.PENDING) and not states.get(WriteBackState.SENDING):
                return swept
            if bar.n != sent:
                sent, last_change = bar.n, time.monotonic()
            elif time.monotonic() - last_change > stall:
                progress(f"nothing sent for {stall:.0f} s: giving up on the rest")
                return swept
            if time.monotonic() >= next_sweep:
                swept += requeue_stale_writebacks()
                next_sweep += sweep_every
            time.sleep(0.5)


def request_kind(method: str, path: str) -> str:
    if "/service/tickets" in path:
        return "ticket_lookups"
    if path.endswith("/time/entries"):
        return "creates" if method == "POST" else "marker_lookups"
    return "other_requests"


def run_phase(cast: list[dict], args, workers: Workers, count: int, tickets: slice, faults):
    from django.db.models import Max

    from psasync.models import WriteBack

    for i, member in enumerate(cast):  # a sequence of rolls of its own for each PSA
        member["sim"].set_faults(dataclasses.replace(faults, seed=i))
    after_pk = WriteBack.objects.aggregate(m=Max("pk"))["m"] or 0
    seen = {m["name"]: (len(m["sim"].requests), Counter(m["sim"].statuses)) for m in cast}
    recorded_in = record_entries(cast, count, tickets, args.recorders)
    progress(f"recorded {count} entries in {recorded_in:.1f} s ({count / recorded_in:.0f}/s)")
    progress(f"starting {args.workers} rq workers ...")
    log_sizes = workers.log_sizes()
    try:
        drain_started = workers.start()
        swept = wait_until_sent(after_pk, count, args.stall, args.sweep_every)
    finally:
        exits = workers.stop()
    left = empty_psa_queue()  # the next phase starts with an empty queue
    results = workers.results_since(log_sizes)
    requests: Counter[str] = Counter()
    statuses: Counter[int] = Counter()
    for member in cast:
        sim = member["sim"]
        already, answered = seen[member["name"]]
        requests.update(request_kind(r.method, r.path) for r in sim.requests[already:])
        statuses.update(Counter(sim.statuses) - answered)
    rows = list(
        WriteBack.objects.filter(pk__gt=after_pk).values(
            "uuid", "state", "created_at", "sent_at", "remote_id", "last_error", "client__slug"
        )
    )
    for what, n in Counter(
        f"{r['state']}: {r['last_error'][:120]}" for r in rows if r["state"] != "sent"
    ).most_common(5):
        progress(f"  not sent: {n} x {what}")
    return {
        "recorded_per_s": round(count / recorded_in, 1),
        **timing(rows, count, drain_started),
        **{k: requests[k] for k in ("ticket_lookups", "creates", "marker_lookups")},
        "other_requests": requests["other_requests"],
        "answered_429": statuses[429],
        "answered_500": statuses[500],
        "answers_lost": statuses[599],
        "jobs_run": sum(results.values()),
        **{f"jobs_{outcome}": n for outcome, n in sorted(results.items())},
        "swept": swept,
        "jobs_left": left,
        "worker_exit_codes": exits,
        **count_remote(cast, rows),
    }


def timing(rows: list[dict], count: int, drain_started) -> dict:
    """Sent, lost, and time: throughput over the drain (workers ready to last send),
    and each entry's time from record to sent."""
    sent = [r for r in rows if r["state"] == "sent"]
    if not sent:
        return {"entries": len(rows), "sent": 0, "lost": count, "throughput_per_s": 0.0}
    to_sent = [(r["sent_at"] - r["created_at"]).total_seconds() for r in sent]
    span = (max(r["sent_at"] for r in sent) - drain_started).total_seconds()
    return {
        "entries": len(rows),
        "sent": len(sent),
        "lost": count - len(sent),
        "seconds": round(span, 1),
        "throughput_per_s": round(len(sent) / span, 2),
        "p50_to_sent_s": round(statistics.median(to_sent), 2),
        "p95_to_sent_s": round(percentile(to_sent, 95), 2),
        "max_to_sent_s": round(max(to_sent), 2),
    }


def count_remote(cast: list[dict], rows: list[dict]) -> dict:
    """From the simulators' entries: markers found twice (or more), sent markers missing,
    entries on another client's PSA, and remote ids other than the one we kept."""
    remote: dict[str, list[tuple[str, str]]] = {}
    for member in cast:
        for entry in member["sim"].entries():
            remote.setdefault(entry["marker"], []).append((member["name"], str(entry["id"])))
    twice = missing = misplaced = wrong_id = 0
    for row in rows:
        found = remote.get(f"[hd:{row['uuid'].hex}]", [])
        twice += max(0, len(found) - 1)
        misplaced += sum(1 for name, _ in found if name != row["client__slug"])
        if row["state"] == "sent":
            missing += not found
            wrong_id += bool(found) and row["remote_id"] not in {i for _, i in found}
    return {
        "duplicates": twice + missing,
        "marker_twice": twice,
        "missing_remotely": missing,
        "misplaced": misplaced,
        "wrong_remote_id": wrong_id,
    }


# --- the run ---------------------------------------------------------------------------


def main() -> None:
    args = parse_args()
    why_not = missing_services()
    if why_not:
        progress(f"bench/writeback.py skipped: {why_not}.")
        print(json.dumps({"skipped": why_not}))
        return
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "helpdesk.settings")
    from cryptography.fernet import Fernet

    from bench.throwaway import throwaway_database

    key = Fernet.generate_key().decode()  # a fresh key for a fresh database
    with throwaway_database("benchwb", FIELD_ENCRYPTION_KEYS=[key]) as connection:
        env = {
            **os.environ,
            "DATABASE_URL": database_url(connection),
            "DEBUG": "false",  # as in production, which then needs these four
            "SECRET_KEY": secrets.token_urlsafe(40),
            "ALLOWED_HOSTS": "localhost",
            "ANYMAIL_WEBHOOK_SECRET": f"bench:{secrets.token_urlsafe(16)}",
            "FIELD_ENCRYPTION_KEYS": key,
        }
        phases = run(args, env)
    report(args, phases)


def run(args, env: dict) -> dict:
    from psasync.simulator import Faults, Simulator
    from psasync.simulator.core import serve_many

    simulators = {f"msp-{i:02d}": Simulator(KIND) for i in range(args.clients)}
    running = serve_many(simulators)
    empty_psa_queue()
    try:
        cast = build_cast(args, simulators)
        with tempfile.TemporaryDirectory(prefix="bench-writeback-") as logs:
            workers = Workers(args.workers, env, Path(logs), args.worker_class)
            progress(f"phase 1: {args.entries} entries, with faults and the rate limit")
            set_limit(cast, args.requests, args.window)
            first = slice(0, tickets_for(args, args.entries))
            faults = Faults(
                latency=args.latency, error_rate=args.error_rate, lost_rate=args.lost_rate
            )
            phases = {"faults": run_phase(cast, args, workers, args.entries, first, faults)}
            progress(f"phase 2: {args.fault_free_entries} entries, no faults, no rate limit")
            set_limit(cast, 0, args.window)
            second = slice(first.stop, None)
            phases["fault_free"] = run_phase(
                cast, args, workers, args.fault_free_entries, second, Faults(args.latency)
            )
    finally:
        empty_psa_queue()
        running.stop()
    return phases


def limit_figures(args, faults: dict, capacity: float) -> dict:
    """The PSAs' allowance in write-backs per second. Each request counts against it,
    whatever its answer: the 500s retried and the marker lookups after an ambiguous
    failure are part of sending exactly once. So the limit is the allowance divided by
    the requests a write-back needed in the faulty phase, counted at the simulators;
    beside it, the allowance at the fewest requests possible (a create per entry and a
    lookup per distinct ticket), which no run with faults can reach."""
    if not args.requests:
        return {"limit_requests_per_s": None, "limit_per_s": None, "limit_binds": False}
    tickets = args.clients * tickets_for(args, args.entries)
    fewest = (args.entries + tickets) / args.entries
    needed = faults["requests_per_writeback"]
    requests_per_s = args.clients * args.requests / args.window
    limit = requests_per_s / needed
    return {
        "limit_requests_per_s": round(requests_per_s, 2),
        "requests_per_writeback": needed,
        "distinct_tickets": tickets,
        "fewest_requests_per_writeback": round(fewest, 3),
        "limit_per_s": round(limit, 2),
        "limit_at_fewest_requests_per_s": round(requests_per_s / fewest, 2),
        "limit_binds": capacity > limit,
    }


TABLE = [
    ("entries", "entries"),
    ("recorded by record_time, per s", "recorded_per_s"),
    ("sent", "sent"),
    ("lost (recorded, never sent)", "lost"),
    ("duplicates (twice + missing)", "duplicates"),
    ("  on another client's PSA", "misplaced"),
    ("  remote id not the one kept", "wrong_remote_id"),
    ("workers ready to last send, s", "seconds"),
    ("throughput, write-backs/s", "throughput_per_s"),
    ("record to sent p50, s", "p50_to_sent_s"),
    ("record to sent p95, s", "p95_to_sent_s"),
    ("record to sent max, s", "max_to_sent_s"),
    ("requests at the PSAs, per s", "requests_per_s"),
    ("  per write-back sent", "requests_per_writeback"),
    ("  ticket lookups", "ticket_lookups"),
    ("  creates", "creates"),
    ("  marker lookups", "marker_lookups"),
    ("  answered 429", "answered_429"),
    ("  answered 500", "answered_500"),
    ("  applied, answer lost", "answers_lost"),
    ("jobs run by the workers", "jobs_run"),
    ("  sent", "jobs_sent"),
    ("  adopted (marker found)", "jobs_adopted"),
    ("  to retry (backoff)", "jobs_retry"),
    ("  deferred (our limiter)", "jobs_deferred"),
    ("  skipped (not due / done)", "jobs_skipped"),
    ("  failed", "jobs_failed"),
    ("queued again by the sweeper", "swept"),
    ("jobs still queued at the end", "jobs_left"),
]


def report(args, phases: dict) -> None:
    faults, free = phases["faults"], phases["fault_free"]
    for phase in phases.values():
        requests = sum(phase[k] for k in ("ticket_lookups", "creates", "marker_lookups"))
        requests += phase["other_requests"]
        phase["requests_per_s"] = round(requests / phase.get("seconds", math.nan), 2)
        phase["requests_per_writeback"] = round(requests / (phase["sent"] or math.nan), 2)
    limits = limit_figures(args, faults, free["throughput_per_s"])
    throughput = faults["throughput_per_s"]
    if limits["limit_binds"]:
        ratio, against = throughput / limits["limit_per_s"], "limit"
    else:
        ratio, against = throughput / (free["throughput_per_s"] or math.nan), "fault_free"
    print(
        f"PSA write-back: {args.entries} time entries across {args.clients} clients, each on"
        f" its own simulated {KIND} tenant; {args.workers} rq workers"
        f" ({args.worker_class or 'a fork per job, as rq does by default'}); PostgreSQL, Redis"
    )
    print(
        f"faults: {args.latency * 1000:.0f} ms latency, {args.error_rate:.0%} answered 500,"
        f" {args.lost_rate:.0%} of writes applied with the answer lost"
    )
    if args.requests:
        print(
            f"limit: {args.requests} requests per {args.window} s per tenant, at the simulator"
            f" and on our connection: {limits['limit_requests_per_s']} requests/s across"
            f" {args.clients} tenants. Every request counts, the retried 500s and the marker"
            f" lookups too: at the {limits['requests_per_writeback']} requests a write-back"
            f" needed here, the limit is {limits['limit_per_s']} write-backs/s (at the fewest"
            f" possible, ({args.entries} creates + {limits['distinct_tickets']} ticket"
            f" lookups) / {args.entries} = {limits['fewest_requests_per_writeback']}, it would"
            f" be {limits['limit_at_fewest_requests_per_s']}/s)"
        )
    else:
        print("limit: none (--requests 0)")
    print(f"{'':32}{'faults, limit':>15}{'neither':>12}")
    for label, key in TABLE:
        print(f"{label:32}{str(faults.get(key, 0)):>15}{str(free.get(key, 0)):>12}")
    print(
        f"capacity (no faults, no limit): {free['throughput_per_s']} write-backs/s;"
        + (
            f" the limit ({limits['limit_per_s']}/s) binds"
            if limits["limit_binds"]
            else " the limit does not bind: the ratio is against the capacity"
        )
    )
    print(
        f"throughput {throughput}/s, ratio {ratio:.3f} against the"
        f" {'limit' if against == 'limit' else 'capacity'}; p95 record to sent"
        f" {faults.get('p95_to_sent_s')} s; lost {faults['lost'] + free['lost']};"
        f" duplicates {faults['duplicates'] + free['duplicates']}"
    )
    print(f"goal: ratio >= {GOAL} where the limit binds; lost 0; duplicates 0")
    for name, phase in phases.items():
        print(f"workers stopped ({name}): exit codes {phase['worker_exit_codes']}")
    summary = {
        "throughput_per_s": throughput,
        "limit_per_s": limits["limit_per_s"],
        "ratio": round(ratio, 3),
        "ratio_against": against,
        "p95_to_sent_s": faults.get("p95_to_sent_s"),
        "lost": faults["lost"] + free["lost"],
        "duplicates": faults["duplicates"] + free["duplicates"],
        "fault_free_throughput_per_s": free["throughput_per_s"],
        **{k: v for k, v in limits.items() if k != "limit_per_s"},
        "entries": args.entries,
        "clients": args.clients,
        "workers": args.workers,
        "phases": phases,
    }
    print(json.dumps(summary))


if __name__ == "__main__":
    main()
