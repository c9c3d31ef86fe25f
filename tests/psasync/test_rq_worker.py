"""Write-backs through real Redis and real `rqworker psa` processes (CI: PostgreSQL + Redis).

The simulator runs in this process; the workers reach it over HTTP, as they would a PSA.
"""

import os
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import pytest
from django.db import connection as db

from psasync.models import WriteBack
from psasync.sending import send_writeback
from psasync.simulator.core import Faults
from psasync.sweeper import requeue_stale_writebacks
from tests.mails import REPO
from tests.processes import database_url

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(
        db.vendor != "postgresql", reason="a worker process needs a shared database (PostgreSQL)"
    ),
]


# What `make worker-psa` runs: jobs in the worker's own process, no fork per job.
IN_PROCESS = "rq.worker.SimpleWorker"


def start_worker(log: Path, *, burst: bool = True, worker_class: str = "") -> subprocess.Popen:
    """`manage.py rqworker psa` on the test database, in a process group of its own."""
    command = [sys.executable, "manage.py", "rqworker", "psa"] + (["--burst"] if burst else [])
    command += ["--worker-class", worker_class] if worker_class else []
    return subprocess.Popen(
        command,
        cwd=REPO,
        env={**os.environ, "DATABASE_URL": database_url()},
        stdout=log.open("w"),
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )


def finish(worker: subprocess.Popen, log: Path) -> str:
    assert worker.wait(timeout=120) == 0, log.read_text()
    return log.read_text()


def wait_for(condition, what: str, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            pytest.fail(f"waited {timeout} s for {what}")
        time.sleep(0.05)


def children(pid: int) -> list[int]:
    found = []
    for task in Path(f"/proc/{pid}/task").glob("*"):
        found += [int(child) for child in (task / "children").read_text().split()]
    return found


def running(pid: int) -> bool:
    """Alive and not a zombie waiting to be reaped."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


def kill_worker(worker: subprocess.Popen) -> list[int]:
    """SIGKILL the worker and its work horse (rq puts the horse in a group of its own)."""
    horses = children(worker.pid)
    for group in [worker.pid, *horses]:
        os.killpg(group, signal.SIGKILL)
    worker.wait(timeout=10)
    return horses


@pytest.mark.parametrize("worker_class", ["", IN_PROCESS], ids=["forking", "in-process"])
def test_a_worker_killed_mid_call_leaves_exactly_one_entry_in_the_psa(
    redis_queues, connect, log_time, tmp_path, worker_class
):
    sim, connection = connect("connectwise", faults=Faults(timeout_rate=1.0, hang=60))
    connection.timeout_seconds = 90  # the worker must still be waiting when it is killed
    connection.save(update_fields=["timeout_seconds"])
    log_time()  # commits: the job is queued in Redis
    writeback = WriteBack.objects.get()
    assert redis_queues["psa"].count == 1

    worker = start_worker(tmp_path / "killed.log", burst=False, worker_class=worker_class)
    try:
        wait_for(lambda: len(sim.entries()) == 1, "the PSA to apply the entry")
        writeback.refresh_from_db()
        assert writeback.state == "sending"  # the PSA has it; our worker hangs on the answer
    finally:
        horses = kill_worker(worker)
    assert bool(horses) != bool(worker_class), "rq's default worker runs a job in a horse"
    wait_for(lambda: not any(running(pid) for pid in horses), "the work horse to die", 5)
    writeback.refresh_from_db()
    assert (writeback.state, writeback.remote_id) == ("sending", "")  # nobody will finish it

    assert requeue_stale_writebacks(grace_seconds=0, stale_seconds=0) == 1
    writeback.refresh_from_db()
    assert writeback.state == "pending"
    assert "worker stopped" in writeback.attempt_log.get().message

    sim.set_faults(Faults())
    rerun = start_worker(tmp_path / "rerun.log", worker_class=worker_class)
    finish(rerun, tmp_path / "rerun.log")

    writeback.refresh_from_db()
    [remote] = sim.entries()
    assert remote["marker"] == writeback.marker
    assert (writeback.state, writeback.remote_id) == ("sent", str(remote["id"]))
    assert [a.outcome for a in writeback.attempt_log.order_by("started_at")] == [
        "retry",
        "adopted",
    ]
    posts = [r for r in sim.requests if r.method == "POST"]
    assert len(posts) == 1  # the rerun found the entry by its marker instead of posting again


def test_two_workers_on_one_backlog_send_every_entry_exactly_once(
    redis_queues, connect, log_time, tmp_path
):
    sim, _ = connect("connectwise", faults=Faults(latency=0.05))
    for _ in range(30):
        log_time(minutes=20)
    queue = redis_queues["psa"]
    queue.empty()
    # Each row twice in a row (as after a sweep), so both workers go for the same row.
    jobs = [
        queue.enqueue(send_writeback, pk)
        for pk in WriteBack.objects.order_by("pk").values_list("pk", flat=True)
        for _ in range(2)
    ]

    logs = [tmp_path / "first.log", tmp_path / "second.log"]
    workers = [start_worker(log) for log in logs]
    outputs = [finish(worker, log) for worker, log in zip(workers, logs, strict=True)]

    assert all("Job OK" in output for output in outputs), "both workers took jobs"
    for job in jobs:
        job.refresh()
    assert Counter(job.return_value() for job in jobs) == {"sent": 30, "skipped": 30}
    assert set(WriteBack.objects.values_list("state", flat=True)) == {"sent"}
    markers = Counter(entry["marker"] for entry in sim.entries())
    assert len(markers) == 30
    assert max(markers.values()) == 1
    assert set(markers) == {w.marker for w in WriteBack.objects.all()}
    assert redis_queues["psa"].count == 0


def test_an_in_process_worker_gets_a_new_database_connection_when_its_old_one_broke(
    redis_queues, connect, log_time, tmp_path
):
    # A worker that runs jobs in its own process keeps its connection between jobs; after
    # a PostgreSQL restart (here: its backend terminated) the next job must still send.
    sim, _ = connect("connectwise")
    log = tmp_path / "worker.log"
    worker = start_worker(log, burst=False, worker_class=IN_PROCESS)
    try:
        log_time()
        wait_for(
            lambda: WriteBack.objects.filter(state="sent").exists(), "the first send to finish"
        )
        with db.cursor() as cursor:
            cursor.execute(
                "SELECT pg_terminate_backend(pid, 5000) FROM pg_stat_activity"  # waits for it
                " WHERE datname = current_database() AND pid <> pg_backend_pid()"
            )
            assert cursor.fetchall(), "the worker's connection was open"
        log_time()
        sent = WriteBack.objects.filter(state="sent")
        wait_for(lambda: sent.count() == 2, "the second send to finish")
    finally:
        kill_worker(worker)
    assert len(sim.entries()) == 2
