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
