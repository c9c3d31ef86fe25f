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

import argparse
import base64
import cProfile
import email
import io
import json
import math
import os
import pstats
import statistics
import sys
import tempfile
import time
import uuid
from collections import Counter
from email import policy
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
CORPUS = REPO.parent / "shared" / "corpus" / "email"
SAMPLES = REPO / "samples" / "mail"
URL = "/inbound/mailgun/"
WEBHOOK_AUTH = "dev:dev-webhook-secret"
ADDRESS = "bench@in.ourdesk.example"
FLOOR_TABLE = "bench_intake_floor"

# The floor's table, per database vendor: an id, the fields read, the raw bytes.
FLOOR_DDL = {
    "postgresql": "CREATE TABLE {t} (id bigserial PRIMARY KEY, subject text NOT NULL, "
    "from_address text NOT NULL, body text NOT NULL, raw bytea NOT NULL)",
    "sqlite": "CREATE TABLE {t} (id integer PRIMARY KEY AUTOINCREMENT, subject text NOT NULL, "
    "from_address text NOT NULL, body text NOT NULL, raw blob NOT NULL)",
    "mysql": "CREATE TABLE {t} (id bigint AUTO_INCREMENT PRIMARY KEY, subject longtext NOT NULL, "
    "from_address longtext NOT NULL, body longtext NOT NULL, raw longblob NOT NULL)",
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
    parser.add_argument(
        "--warmup", type=int, default=1, help="unmeasured passes first (default 1)"
    )
    parser.add_argument(
        "--profile",
        action="store_true",
        help="cProfile the measured webhook posts; top 40 by cumulative time to stderr "
        "(slows the intake figures down)",
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


def progress(text: str) -> None:
    print(text, file=sys.stderr, flush=True)


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
    crlf = b"\r\n" in raw[:2000]
    eol = b"\r\n" if crlf else b"\n"
    blank = raw.find(eol + eol)
    head, rest = (raw[:blank + len(eol)], raw[blank + len(eol):]) if blank >= 0 else (raw, b"")
    lines = head.splitlines(keepends=True)
    kept: list[bytes] = []
    skipping = False
    for line in lines:
        if skipping and line[:1] in (b" ", b"\t"):
            continue
        skipping = line.lower().startswith(b"message-id:")
        if not skipping:
            kept.append(line)
    at = 1 if kept and kept[0].startswith(b"From ") else 0  # after an mbox "From " line
    kept.insert(at, b"Message-ID: " + message_id.encode("ascii") + eol)
    return b"".join(kept) + rest


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
        b"--%s\r\nContent-Disposition: form-data; name=\"%s\"\r\n\r\n%s\r\n"
        % (boundary.encode(), name.encode(), value)
        for name, value in fields.items()
    ]
    body = b"".join(parts) + b"--%s--\r\n" % boundary.encode()
    return body, f"multipart/form-data; boundary={boundary}"


# --- The floor ---------------------------------------------------------------------


def _db_text(value: str) -> str:
    # PostgreSQL text takes no NUL and no lone surrogates; the webhook path cleans these too.
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


# --- Figures --------------------------------------------------------------------------


def percentile(sorted_values: list[float], pct: float) -> float:
    """Nearest-rank percentile of an already sorted list."""
    if not sorted_values:
        return float("nan")
    rank = max(1, min(len(sorted_values), math.ceil(pct / 100 * len(sorted_values))))
    return sorted_values[rank - 1]


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
    return f"{connection.vendor}: {version.split(' on ')[0]} (throwaway {connection.settings_dict['NAME']})"


# --- The run ---------------------------------------------------------------------------


def main() -> None:
    args = parse_args()
    sys.path.insert(0, str(REPO))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "helpdesk.settings")
    import django

    django.setup()

    from django.conf import settings
    from django.db import connection
    from django.test.utils import setup_test_environment, teardown_test_environment

    # Production-like: DEBUG off (no query log), and every post runs the whole
    # pipeline in the request, as it does without Redis.
    setup_test_environment(debug=False)
    settings.REDIS_URL = ""
    media = tempfile.TemporaryDirectory(prefix="bench-media-")
    settings.MEDIA_ROOT = media.name
    if connection.vendor != "sqlite":
        # Not the test runner's test_<name>: a concurrent test run keeps its database.
        connection.settings_dict["TEST"]["NAME"] = f"test_bench_{connection.settings_dict['NAME']}"
    progress(f"creating a throwaway {connection.vendor} database and migrating it ...")
    old_name = connection.creation.create_test_db(
        verbosity=0, autoclobber=True, serialize=False, keepdb=False
    )
    try:
        run(args)
    finally:
        connection.creation.destroy_test_db(old_name, verbosity=0, keepdb=False)
        teardown_test_environment()
        media.cleanup()


def run(args: argparse.Namespace) -> None:
    from django.db import connection
    from django.test import Client as HttpClient
    from django.test.utils import CaptureQueriesContext

    from clients.models import Client, DedicatedAddress
    from tickets.models import InboundMail

    mails, where = load_corpus()
    client = Client.objects.create(name="Bench MSP", slug="bench")
    DedicatedAddress.objects.create(client=client, address=ADDRESS)
    http = HttpClient()
    auth = {"authorization": "Basic " + base64.b64encode(WEBHOOK_AUTH.encode()).decode()}
    run_id = uuid.uuid4().hex[:8]

    quote = connection.ops.quote_name
    ddl = FLOOR_DDL.get(connection.vendor)
    if ddl is None:
        raise SystemExit(f"No floor table for the {connection.vendor} database in bench/intake.py.")
    with connection.cursor() as cursor:
        cursor.execute(ddl.format(t=quote(FLOOR_TABLE)))
    placeholders = ", ".join(["%s"] * 4)
    insert_sql = (
        f"INSERT INTO {quote(FLOOR_TABLE)} (subject, from_address, body, raw) "
        f"VALUES ({placeholders})"
    )

    def round_mails(label: str) -> list[tuple[str, bytes, bytes, str]]:
        """(token, raw, form body, content type) per mail, each with a new Message-ID."""
        batch = []
        for i, (_source, raw) in enumerate(mails):
            token = f"{run_id}-{label}-{i}"
            unique = with_message_id(raw, f"<bench-{token}@bench.invalid>")
            body, content_type = mailgun_form(unique, ADDRESS, token)
            batch.append((token, unique, body, content_type))
        return batch

    errors: list[str] = []

    def post(body: bytes, content_type: str) -> None:
        response = http.post(URL, data=body, content_type=content_type, headers=auth)
        if response.status_code != 200 and len(errors) < 20:
            errors.append(f"HTTP {response.status_code}: {response.content[:200]!r}")

    def intake_round(batch, times: list[float] | None, profiler=None) -> float:
        start = time.perf_counter()
        if profiler:
            profiler.enable()
        for _token, _raw, body, content_type in batch:
            t0 = time.perf_counter()
            post(body, content_type)
            if times is not None:
                times.append(time.perf_counter() - t0)
        if profiler:
            profiler.disable()
        return time.perf_counter() - start

    def floor_round(batch, times: list[float] | None) -> float:
        start = time.perf_counter()
        with connection.cursor() as cursor:
            for _token, raw, _body, _content_type in batch:
                t0 = time.perf_counter()
                cursor.execute(insert_sql, [*floor_read(raw), raw])  # autocommit: one commit
                if times is not None:
                    times.append(time.perf_counter() - t0)
        return time.perf_counter() - start

    progress(f"{len(mails)} mails from {where}; warming up ({args.warmup} round(s)) ...")
    for w in range(args.warmup):
        batch = round_mails(f"warm{w}")
        intake_round(batch, None)
        floor_round(batch, None)

    intake_times: list[float] = []
    floor_times: list[float] = []
    intake_elapsed = floor_elapsed = 0.0
    measured_tokens: list[str] = []
    profiler = cProfile.Profile() if args.profile else None
    for r in range(args.rounds):
        batch = round_mails(f"r{r}")
        measured_tokens += [token for token, *_ in batch]
        # Alternating intake and floor round by round spreads any drift over both.
        took_intake = intake_round(batch, intake_times, profiler)
        took_floor = floor_round(batch, floor_times)
        intake_elapsed += took_intake
        floor_elapsed += took_floor
        progress(
            f"round {r + 1}/{args.rounds}: intake {len(batch) / took_intake:7.1f} msg/s, "
            f"floor {len(batch) / took_floor:7.1f} msg/s"
        )

    # What the measured mails became, read back from the stored rows.
    rows = InboundMail.objects.filter(provider_event_id__in=measured_tokens)
    outcomes = Counter(
        f"{status}:{outcome}" if status != "processed" else outcome
        for status, outcome in rows.values_list("status", "outcome")
    )

    # One more round, untimed, counting the SQL statements of each message.
    progress("counting queries per message (one untimed round) ...")
    per_message: list[tuple[int, str, list[str]]] = []
    for token, _raw, body, content_type in round_mails("sql"):
        with CaptureQueriesContext(connection) as captured:
            post(body, content_type)
        per_message.append((len(captured), token, [q["sql"] for q in captured.captured_queries]))
    sql_outcome = dict(
        InboundMail.objects.filter(
            provider_event_id__in=[token for _, token, _ in per_message]
        ).values_list("provider_event_id", "outcome")
    )
    by_outcome: dict[str, list[int]] = {}
    for count, token, _ in per_message:
        by_outcome.setdefault(sql_outcome.get(token) or "failed", []).append(count)
    counts = sorted(count for count, _, _ in per_message)
    created = sorted(
        (m for m in per_message if sql_outcome.get(m[1]) == "created"), key=lambda m: m[0]
    )
    typical = created[len(created) // 2] if created else per_message[len(per_message) // 2]

    with connection.cursor() as cursor:
        cursor.execute(f"DROP TABLE {quote(FLOOR_TABLE)}")

    if profiler:
        out = io.StringIO()
        pstats.Stats(profiler, stream=out).sort_stats("cumulative").print_stats(40)
        progress("\n--- cProfile of the measured webhook posts, top 40 by cumulative time ---")
        progress(out.getvalue())
    if args.show_sql:
        progress(
            f"\n--- SQL of one typical message ({sql_outcome.get(typical[1])}, "
            f"{typical[0]} statements) ---"
        )
        for n, sql in enumerate(typical[2], start=1):
            progress(f"{n:3}. {sql[:300]}")

    intake = summary(intake_times, intake_elapsed)
    floor = summary(floor_times, floor_elapsed)
    ratio = intake["msgs_per_s"] / floor["msgs_per_s"]
    vendor = connection.vendor
    print(f"Intake benchmark: {len(mails)} mails x {args.rounds} rounds from {where}")
    print(
        "Jobs run inline (REDIS_URL cleared for this run): each post stores the mail and runs "
        "the whole pipeline. DEBUG off."
        + (" Intake figures are slowed by cProfile." if profiler else "")
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
    print(f"database: {database_description(connection)}")
    print("outcomes: " + ", ".join(f"{k} {v}" for k, v in sorted(outcomes.items())))
    print(
        f"SQL statements per intake message: median {statistics.median(counts):g}, "
        f"min {counts[0]}, max {counts[-1]}; "
        + ", ".join(
            f"{name} {statistics.median(values):g}" for name, values in sorted(by_outcome.items())
        )
        + " (CaptureQueriesContext; BEGIN/COMMIT not included)"
    )
    if errors:
        print(f"WARNING: {len(errors)} or more posts were not answered 200, e.g. {errors[0]}")
    print(
        json.dumps(
            {
                "intake_msgs_per_s": round(intake["msgs_per_s"], 2),
                "floor_msgs_per_s": round(floor["msgs_per_s"], 2),
                "ratio": round(ratio, 4),
                "intake_p50_ms": round(intake["p50_ms"], 3),
                "intake_p99_ms": round(intake["p99_ms"], 3),
                "floor_p50_ms": round(floor["p50_ms"], 3),
                "floor_p99_ms": round(floor["p99_ms"], 3),
                "messages": intake["messages"],
                "rounds": args.rounds,
                "corpus_mails": len(mails),
                "database": vendor,
                "jobs": "inline",
                "queries_per_message_median": statistics.median(counts),
                "non_200": len(errors),
                "profiled": bool(profiler),
            }
        )
    )


if __name__ == "__main__":
    main()
