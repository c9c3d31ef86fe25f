"""The benchmarks still start and print their JSON line (a smoke run, not a measurement)."""

import json
import os
import subprocess
import sys

import pytest

from tests.mails import REPO


def run_bench(*args: str) -> dict:
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "REDIS_URL")}
    result = subprocess.run(
        [sys.executable, *args], cwd=REPO, env=env, capture_output=True, text=True, timeout=300
    )
    assert result.returncode == 0, result.stderr[-3000:]
    return json.loads(result.stdout.strip().splitlines()[-1])


@pytest.mark.parametrize(
    "args",
    [
        ["bench/intake.py", "--rounds", "1", "--warmup", "0"],
        ["bench/queue.py", "--tickets", "300", "--clients", "5", "--pages", "3"],
    ],
    ids=["intake", "queue"],
)
def test_a_benchmark_runs_to_its_json_line(args):
    figures = run_bench(*args)
    assert figures  # a non-empty JSON object, with its own keys
    assert ("ratio" in figures) or ("queue_p95_ms" in figures)


def test_the_writeback_benchmark_runs_to_its_json_line_on_postgresql_and_redis():
    # Worker processes share the database and Redis: this one keeps DATABASE_URL and
    # REDIS_URL, and needs both (CI sets them).
    if not os.environ.get("REDIS_URL") or not os.environ.get("DATABASE_URL", "").startswith(
        "postgres"
    ):
        pytest.skip("bench/writeback.py needs PostgreSQL and Redis (DATABASE_URL, REDIS_URL)")
    result = subprocess.run(
        [sys.executable, "bench/writeback.py", "--quick"],
        cwd=REPO, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-3000:]
    figures = json.loads(result.stdout.strip().splitlines()[-1])
    assert {"throughput_per_s", "limit_per_s", "ratio", "ratio_against"} <= figures.keys()
    assert {"p95_to_sent_s", "lost", "duplicates"} <= figures.keys()
    assert figures["phases"]["faults"]["entries"] == 40
    # Through 500s, lost answers and real workers: every entry once in the PSA.
    assert (figures["lost"], figures["duplicates"]) == (0, 0), result.stdout[-3000:]
