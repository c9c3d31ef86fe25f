"""Intake throughput: the mail corpus through the Mailgun webhook, against a floor.

Posts every mail of the corpus, many times over, to /inbound/mailgun/ with the
Django test client (the real URL, basic auth, store-first and the whole pipeline,
run inline), on a throwaway copy of the database DATABASE_URL names. In the same
run it measures the floor: the same mails parsed by the stdlib parser
(policy.default; subject, from and body read) plus one INSERT and commit each.

Prints a table, and a JSON object as the last line. A benchmark, not a test:
nothing here passes or fails. See bench/README.md.

    .venv/bin/python bench/intake.py [--rounds N] [--profile] [--show-sql]
"""

import sys
from pathlib import Path

# bench/queue.py is named like the stdlib's `queue`, which threads import: the
# script's folder must not shadow it, so the repo root takes its place on the path.
REPO = Path(__file__).resolve().parent.parent
sys.path[0] = str(REPO)

import argparse
import base64
import cProfile
import email
import io
import json
import os
import pstats
import re
import statistics
import tempfile
import time
import uuid
from collections import Counter
from email import policy

from bench.figures import percentile, progress

CORPUS = REPO.parent / "shared" / "corpus" / "email"
SAMPLES = REPO / "samples" / "mail"
URL = "/inbound/mailgun/"
DEV_WEBHOOK_SECRET = "dev:dev-webhook-secret"  # ANYMAIL_WEBHOOK_SECRET, when set, wins
ADDRESS = "bench@in.ourdesk.example"
FLOOR_TABLE = "bench_intake_floor"
_HEADER_FIELD = re.compile(rb"[!-9;-~]+[ \t]*:")
TRANSACTION_SQL = ("BEGIN", "COMMIT", "ROLLBACK", "SAVEPOINT", "RELEASE SAVEPOINT")

# The floor's table, per database vendor: an id, the fields read, the raw bytes.
FLOOR_DDL = {
    "postgresql": "CREATE TABLE {t} (id bigserial PRIMARY KEY, subject text NOT NULL, "
    "from_address text NOT NULL, body text NOT NULL, raw bytea NOT NULL)",
    "sqlite": "CREATE TABLE {t} (id integer PRIMARY KEY AUTOINCREMENT, subject text NOT NULL, "
    "from_address text NOT NULL, body text NOT NULL, raw blob NOT NULL)",
}


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--rounds",
        type=int,
        default=80,
        help="measured passes over the corpus (default 80: about 1.5 minutes on SQLite "
        "on a 2-core machine)",
    )
    parser.add_argument("--warmup", type=int, default=1, help="unmeasured passes first (default 1)")
    parser.add_argument(
        "--profile",
        action="store_true",
        help="cProfile the measured webhook posts; top 40 by cumulative time to stderr "
        "(slows the intake figures down)",
    )
    parser.add_argument(
        "--profile-out",
        metavar="PATH",
        help="profile as --profile does, and save the raw pstats there as well",
    )
    parser.add_argument(
        "--show-sql",
        action="store_true",
        help="print to stderr the SQL of one typical message (a new ticket)",
    )
    args = parser.parse_args()
    if args.rounds < 1 or args.warmup < 0:
        parser.error("--rounds must be at least 1 and --warmup not negative")
    return args


# --- The corpus ------------------------------------------------------------------


def load_corpus() -> tuple[list[tuple[str, bytes]], str]:
    """(source, raw) for every mail, and a line saying where they came from."""
    from desklib.mailfiles import iter_mails

    if CORPUS.is_dir():
        files = sorted(p for p in CORPUS.rglob("*") if p.suffix.lower() in (".box", ".eml"))
        where = f"{os.path.relpath(CORPUS, REPO)} (*.box, *.eml)"
    else:
        files = sorted(SAMPLES.glob("*.eml"))
        where = (
            f"{os.path.relpath(SAMPLES, REPO)}/*.eml "
            f"(fallback: the corpus is absent at {os.path.relpath(CORPUS, REPO)})"
        )
    mails = list(iter_mails([str(f) for f in files]))
    if not mails:
        raise SystemExit(f"No mails found for the benchmark in {where}.")
    return mails, where


def with_message_id(raw: bytes, message_id: str) -> bytes:
    """`raw` with its Message-ID header (and folded continuations) replaced by `message_id`,
    so that each repetition is a new mail rather than a duplicate delivery."""
    lines = raw.splitlines(keepends=True)
    eol = b"\r\n" if lines and lines[0].endswith(b"\r\n") else b"\n"
    at = 1 if lines and lines[0].startswith(b"From ") else 0  # after an mbox "From " line
    kept = lines[:at]
    n, skipping = at, False
    # The header block ends where the parser's does: at the first line that is
    # neither a field nor a continuation (usually the blank line).
    while n < len(lines) and (
        _HEADER_FIELD.match(lines[n]) or (n > at and lines[n][:1] in (b" ", b"\t"))
    ):
        if lines[n][:1] not in (b" ", b"\t"):
            skipping = lines[n].lower().startswith(b"message-id:")
        if not skipping:
            kept.append(lines[n])
        n += 1
    kept.insert(at, b"Message-ID: " + message_id.encode("ascii") + eol)
    return b"".join(kept) + b"".join(lines[n:])


def mailgun_form(raw: bytes, recipient: str, token: str) -> tuple[bytes, str]:
    """Mailgun's forward() of a raw-MIME route as a multipart body, and its content type.

    Encoded here, before timing starts, so the figures leave out the test client's own
    encoding; the raw bytes go into the form unchanged.
    """
    boundary = uuid.uuid4().hex
    fields = {
        "recipient": recipient.encode(),
        "sender": b"bench@customer.example",
        "timestamp": str(int(time.time())).encode(),
        "token": token.encode(),
        "signature": b"0" * 64,
        "body-mime": raw,
    }
    parts = [
        b'--%s\r\nContent-Disposition: form-data; name="%s"\r\n\r\n%s\r\n'
        % (boundary.encode(), name.encode(), value)
        for name, value in fields.items()
    ]
    body = b"".join(parts) + b"--%s--\r\n" % boundary.encode()
    return body, f"multipart/form-data; boundary={boundary}"


# --- The floor ---------------------------------------------------------------------


def _db_text(value: str) -> str:
    # PostgreSQL text takes no NUL and no lone surrogates (the intake's parser drops them too).
    return value.replace("\x00", "").encode("utf-8", "replace").decode("utf-8")


def floor_read(raw: bytes) -> tuple[str, str, str]:
    """Subject, From and body as the stdlib parser (policy.default) gives them."""
    msg = email.message_from_bytes(raw, policy=policy.default)
    try:
        subject = str(msg.get("subject", ""))
    except Exception:  # policy.default is stricter than compat32 about broken headers
        subject = ""
    try:
        sender = str(msg.get("from", ""))
    except Exception:
        sender = ""
    try:
        part = msg.get_body(preferencelist=("plain", "html"))
        body = part.get_content() if part is not None else ""
    except Exception:  # an unknown charset or a broken part: take the bytes as they are
        payload = msg.get_payload(decode=True)
        body = payload.decode("utf-8", "replace") if isinstance(payload, bytes) else ""
    if not isinstance(body, str):
        body = ""
    return _db_text(subject), _db_text(sender), _db_text(body)


def statement_shape(sql: str) -> str:
    """A statement's kind and first table, e.g. 'SELECT tickets_ticket FOR UPDATE'."""
    match = re.match(r'\s*(SELECT|INSERT INTO|UPDATE|DELETE FROM)\b.*?"(\w+)"', sql, re.S)
    if not match:
        return " ".join(sql.split()[:2]) if sql.startswith("RELEASE") else sql.split()[0]
    return f"{match[1]} {match[2]}" + (" FOR UPDATE" if "FOR UPDATE" in sql else "")


class StatementTimer:
    """An execute wrapper adding each statement's wall time (ms) under its shape."""

    def __init__(self, into: dict[str, list[float]]):
        self.into = into

    def __call__(self, execute, sql, params, many, context):
        start = time.perf_counter()
        try:
            return execute(sql, params, many, context)
        finally:
            elapsed = (time.perf_counter() - start) * 1000
            self.into.setdefault(statement_shape(sql), []).append(elapsed)


# --- Figures --------------------------------------------------------------------------


def summary(times: list[float], elapsed: float) -> dict:
    ordered = sorted(times)
    return {
        "messages": len(times),
        "msgs_per_s": len(times) / elapsed if elapsed else float("nan"),
        "p50_ms": statistics.median(ordered) * 1000,
        "p99_ms": percentile(ordered, 99) * 1000,
    }


def database_description(connection) -> str:
    if connection.vendor == "sqlite":
        return f"sqlite {connection.Database.sqlite_version} (in-memory test database)"
    with connection.cursor() as cursor:
        cursor.execute("SELECT version()")
        version = cursor.fetchone()[0]
    name = connection.settings_dict["NAME"]
    return f"{connection.vendor}: {version.split(' on ')[0]} (throwaway database {name})"


# --- The run ---------------------------------------------------------------------------


def main() -> None:
    args = parse_args()
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "helpdesk.settings")
    from bench.throwaway import throwaway_database

    # Production-like: DEBUG off (no query log). Every post runs the whole pipeline
    # in the request, as it does without Redis; attachments go to a temporary folder.
    with (
        tempfile.TemporaryDirectory(prefix="bench-media-") as media,
        throwaway_database("bench", REDIS_URL="", MEDIA_ROOT=media),
    ):
        run(args)


class Bench:
    """The webhook path and the floor, over repetitions of one corpus."""

    def __init__(self, mails: list[tuple[str, bytes]]):
        from django.conf import settings
        from django.db import connection
        from django.test import Client as HttpClient

        from clients.models import Client, DedicatedAddress

        self.mails = mails
        self.connection = connection
        self.run_id = uuid.uuid4().hex[:8]
        client = Client.objects.create(name="Bench MSP", slug="bench")
        DedicatedAddress.objects.create(client=client, address=ADDRESS)
        self.http = HttpClient()
        secret = settings.ANYMAIL.get("WEBHOOK_SECRET") or DEV_WEBHOOK_SECRET
        secret = secret[0] if isinstance(secret, list | tuple) else secret
        token = base64.b64encode(secret.encode()).decode()
        self.auth = {"authorization": f"Basic {token}"}
        self.non_200 = 0
        self.first_error = ""
        self.table = connection.ops.quote_name(FLOOR_TABLE)
        self.insert_sql = (
            f"INSERT INTO {self.table} (subject, from_address, body, raw) VALUES (%s, %s, %s, %s)"
        )

    def create_floor_table(self) -> None:
        ddl = FLOOR_DDL.get(self.connection.vendor)
        if ddl is None:
            raise SystemExit(f"bench/intake.py has no floor table for {self.connection.vendor}.")
        with self.connection.cursor() as cursor:
            cursor.execute(ddl.format(t=self.table))

    def drop_floor_table(self) -> None:
        with self.connection.cursor() as cursor:
            cursor.execute(f"DROP TABLE {self.table}")

    def round_mails(self, label: str) -> list[tuple[str, bytes, bytes, str]]:
        """(token, raw, form body, content type) per mail, each with a new Message-ID."""
        batch = []
        for i, (_source, raw) in enumerate(self.mails):
            token = f"{self.run_id}-{label}-{i}"
            unique = with_message_id(raw, f"<bench-{token}@bench.invalid>")
            batch.append((token, unique, *mailgun_form(unique, ADDRESS, token)))
        return batch

    def post(self, body: bytes, content_type: str) -> None:
        response = self.http.post(URL, data=body, content_type=content_type, headers=self.auth)
        if response.status_code != 200:
            self.non_200 += 1
            self.first_error = self.first_error or (
                f"HTTP {response.status_code}: {response.content[:200]!r}"
            )

    def intake_round(self, batch, times: list[float] | None, profiler=None) -> float:
        """Post each mail; per-message wall times into `times`. Returns the round's time."""
        start = time.perf_counter()
        if profiler:
            profiler.enable()
        for _token, _raw, body, content_type in batch:
            t0 = time.perf_counter()
            self.post(body, content_type)
            if times is not None:
                times.append(time.perf_counter() - t0)
        if profiler:
            profiler.disable()
        return time.perf_counter() - start

    def floor_round(self, batch, times: list[float] | None) -> float:
        """Parse each mail and insert it, one autocommitted INSERT (one commit) each."""
        start = time.perf_counter()
        with self.connection.cursor() as cursor:
            for _token, raw, _body, _content_type in batch:
                t0 = time.perf_counter()
                cursor.execute(self.insert_sql, [*floor_read(raw), raw])
                if times is not None:
                    times.append(time.perf_counter() - t0)
        return time.perf_counter() - start

    def count_queries(self, statement_ms: dict[str, list[float]]) -> list[tuple[int, str, list]]:
        """One more round, untimed: (statement count, token, SQL list) per message."""
        from django.test.utils import CaptureQueriesContext

        per_message = []
        for token, _raw, body, content_type in self.round_mails("sql"):
            timer = StatementTimer(statement_ms)
            with (
                CaptureQueriesContext(self.connection) as captured,
                self.connection.execute_wrapper(timer),
            ):
                self.post(body, content_type)
            sql = [q["sql"] for q in captured.captured_queries]
            per_message.append((len(sql), token, sql))
        return per_message


def run(args: argparse.Namespace) -> None:
    from tickets.models import InboundMail

    mails, where = load_corpus()
    bench = Bench(mails)
    bench.create_floor_table()
    progress(f"{len(mails)} mails from {where}; warming up ({args.warmup} round(s)) ...")
    for w in range(args.warmup):
        batch = bench.round_mails(f"warm{w}")
        bench.intake_round(batch, None)
        bench.floor_round(batch, None)

    intake_times: list[float] = []
    floor_times: list[float] = []
    intake_elapsed = floor_elapsed = 0.0
    measured: list[str] = []
    profiler = cProfile.Profile() if args.profile or args.profile_out else None
    for r in range(args.rounds):
        batch = bench.round_mails(f"r{r}")
        measured += [token for token, *_ in batch]
        # Alternating intake and floor round by round spreads any drift over both.
        took_intake = bench.intake_round(batch, intake_times, profiler)
        took_floor = bench.floor_round(batch, floor_times)
        intake_elapsed += took_intake
        floor_elapsed += took_floor
        progress(
            f"round {r + 1}/{args.rounds}: intake {len(batch) / took_intake:7.1f} msg/s, "
            f"floor {len(batch) / took_floor:7.1f} msg/s"
        )
    # What the measured mails became, read back from the stored rows.
    outcomes = Counter(
        outcome if status == "processed" else f"{status}:{outcome}"
        for status, outcome in InboundMail.objects.filter(
            provider_event_id__in=measured
        ).values_list("status", "outcome")
    )

    progress("counting queries per message (one untimed round) ...")
    statement_ms: dict[str, list[float]] = {}
    per_message = bench.count_queries(statement_ms)
    sql_outcome = dict(
        InboundMail.objects.filter(
            provider_event_id__in=[token for _, token, _ in per_message]
        ).values_list("provider_event_id", "outcome")
    )
    bench.drop_floor_table()

    if profiler:
        print_profile(profiler, args.profile_out)
    if args.show_sql:
        print_sql(per_message, sql_outcome, statement_ms)
    report(
        args,
        bench,
        where,
        summary(intake_times, intake_elapsed),
        summary(floor_times, floor_elapsed),
        outcomes,
        per_message,
        sql_outcome,
        profiled=profiler is not None,
    )


def print_profile(profiler: cProfile.Profile, path: str | None) -> None:
    out = io.StringIO()
    pstats.Stats(profiler, stream=out).sort_stats("cumulative").print_stats(40)
    progress("\n--- cProfile of the measured webhook posts, top 40 by cumulative time ---")
    progress(out.getvalue())
    if path:
        profiler.dump_stats(path)
        progress(f"raw profile saved to {path}")


def typical_message(per_message, sql_outcome) -> tuple[int, str, list]:
    """The new-ticket message with the median statement count (a new ticket is the
    commonest outcome); any median message if none opened a ticket."""
    created = [m for m in per_message if sql_outcome.get(m[1]) == "created"]
    pool = sorted(created or per_message, key=lambda m: m[0])
    return pool[len(pool) // 2]


def print_sql(per_message, sql_outcome, statement_ms: dict[str, list[float]]) -> None:
    count, token, statements = typical_message(per_message, sql_outcome)
    progress(f"\n--- SQL of one typical message ({sql_outcome.get(token)}, {count} statements) ---")
    for n, sql in enumerate(statements, start=1):
        progress(f"{n:3}. {sql[:300]}")
    progress(
        f"\n--- SQL time by statement over the counting round ({len(per_message)} "
        "messages; execute() to result, COMMIT not included) ---"
    )
    progress(f"{'statement':<48} {'count':>6} {'total ms':>9} {'mean ms':>8}")
    for shape, values in sorted(statement_ms.items(), key=lambda kv: -sum(kv[1])):
        total = sum(values)
        progress(f"{shape:<48} {len(values):>6} {total:>9.1f} {total / len(values):>8.3f}")


def report(
    args, bench: Bench, where, intake, floor, outcomes, per_message, sql_outcome, *, profiled
) -> None:
    """The table, then the JSON line, last."""
    ratio = intake["msgs_per_s"] / floor["msgs_per_s"]
    counts = sorted(count for count, _, _ in per_message)
    data_counts = sorted(
        sum(not sql.startswith(TRANSACTION_SQL) for sql in statements)
        for _, _, statements in per_message
    )
    by_outcome: dict[str, list[int]] = {}
    for count, token, _ in per_message:
        by_outcome.setdefault(sql_outcome.get(token) or "failed", []).append(count)

    print(f"Intake benchmark: {len(bench.mails)} mails x {args.rounds} rounds from {where}")
    print(
        "Jobs run inline (REDIS_URL cleared for this run): each post stores the mail and runs "
        "the whole pipeline. DEBUG off." + (" Intake slowed by cProfile." if profiled else "")
    )
    print(
        "Floor: email.message_from_bytes(policy.default), subject/from/body read, "
        "one INSERT + commit."
    )
    print()
    print(f"{'path':<8} {'messages':>9} {'msgs/s':>9} {'p50 ms':>9} {'p99 ms':>9}")
    for name, fig in (("intake", intake), ("floor", floor)):
        print(
            f"{name:<8} {fig['messages']:>9} {fig['msgs_per_s']:>9.1f} "
            f"{fig['p50_ms']:>9.2f} {fig['p99_ms']:>9.2f}"
        )
    print(f"ratio    {ratio:.3f} (intake msgs/s / floor msgs/s)")
    print()
    print(f"database: {database_description(bench.connection)}")
    print("outcomes: " + ", ".join(f"{k} {v}" for k, v in sorted(outcomes.items())))
    print(
        f"SQL statements per intake message (CaptureQueriesContext): median "
        f"{statistics.median(counts):g} (min {counts[0]}, max {counts[-1]}; by outcome "
        + ", ".join(f"{k} {statistics.median(v):g}" for k, v in sorted(by_outcome.items()))
        + f"), of which {statistics.median(data_counts):g} are not BEGIN/COMMIT/SAVEPOINT"
    )
    if bench.non_200:
        print(f"WARNING: {bench.non_200} posts were not answered 200, e.g. {bench.first_error}")
    figures = {
        "intake_msgs_per_s": round(intake["msgs_per_s"], 2),
        "floor_msgs_per_s": round(floor["msgs_per_s"], 2),
        "ratio": round(ratio, 4),
        "intake_p50_ms": round(intake["p50_ms"], 3),
        "intake_p99_ms": round(intake["p99_ms"], 3),
        "floor_p50_ms": round(floor["p50_ms"], 3),
        "floor_p99_ms": round(floor["p99_ms"], 3),
        "messages": intake["messages"],
        "rounds": args.rounds,
        "corpus_mails": len(bench.mails),
        "database": bench.connection.vendor,
        "jobs": "inline",
        "queries_per_message_median": statistics.median(counts),
        "data_queries_per_message_median": statistics.median(data_counts),
        "non_200": bench.non_200,
        "profiled": profiled,
    }
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
