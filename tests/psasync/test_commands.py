"""The PSA commands: `set_psa` connects a client from the command line, `sweep_writebacks`
queues what waits, and `psa_simulator` serves simulated PSAs on a port."""

import json
import os
import signal
import socket
import subprocess
import sys
from datetime import timedelta
from io import StringIO

import httpx
import pytest
from django.core.management import CommandError, call_command
from django.db import connection as db
from django.utils import timezone

from psasync.models import PsaConnection, WriteBack
from psasync.simulator import Simulator
from tests.factories import make_agent
from tests.mails import REPO

pytestmark = pytest.mark.django_db

CW = {
    "company": "acmecorp",
    "public_key": "PUB-set-psa",
    "private_key": "PRIV-set-psa-do-not-leak",
    "client_id": "0d8f-client",
}
CW_URL = "https://api-na.myconnectwise.net/v4_6_release/apis/3.0"


@pytest.fixture(autouse=True)
def _fast_passwords(settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


def run(command: str, *args: str) -> str:
    out = StringIO()
    call_command(command, *args, stdout=out)
    return out.getvalue()


@pytest.fixture
def creds_file(tmp_path):
    """creds_file(data or text) -> the path of a JSON file holding it."""

    def write(content, name: str = "creds.json") -> str:
        path = tmp_path / name
        path.write_text(content if isinstance(content, str) else json.dumps(content))
        return str(path)

    return write


# --- set_psa -------------------------------------------------------------------------------


def test_set_psa_connects_a_client_with_sealed_credentials_and_mapped_members(acme, creds_file):
    make_agent("alex")
    output = run(
        "set_psa", "acme", "--kind", "connectwise", "--url", CW_URL,
        "--credentials", creds_file(CW), "--member", "alex=17",
    )  # fmt: skip
    connection = PsaConnection.objects.get(client=acme)
    assert (connection.kind, connection.base_url, connection.enabled) == (
        "connectwise",
        CW_URL,
        True,
    )
    assert connection.credentials.reveal() == CW
    acme.refresh_from_db()
    assert acme.psa_kind == "connectwise"
    assert dict(connection.members.values_list("agent__user__username", "member")) == {"alex": "17"}
    with db.cursor() as cursor:
        cursor.execute("SELECT credentials FROM psasync_psaconnection")
        (stored,) = cursor.fetchone()
    assert "PRIV-set-psa-do-not-leak" not in stored and "private_key" not in stored
    assert "PRIV-set-psa-do-not-leak" not in output
    assert "client_id, company, private_key, public_key (encrypted)" in output
    assert "members: alex=17" in output


def test_set_psa_run_again_updates_the_same_connection(acme, creds_file):
    make_agent("alex")
    make_agent("sam")
    run("set_psa", "acme", "--kind", "connectwise", "--url", CW_URL,
        "--credentials", creds_file(CW), "--member", "alex=17")  # fmt: skip
    output = run(
        "set_psa", "acme", "--kind", "syncro", "--url", "https://acme.syncromsp.com/api/v1",
        "--credentials", creds_file({"api_key": "T0k3n"}, "syncro.json"),
        "--member", "alex=21", "--member", "sam=22", "--disabled",
    )  # fmt: skip
    connection = PsaConnection.objects.get()
    assert (connection.kind, connection.base_url, connection.enabled) == (
        "syncro",
        "https://acme.syncromsp.com/api/v1",
        False,
    )
    assert connection.credentials.reveal() == {"api_key": "T0k3n"}
    acme.refresh_from_db()
    assert acme.psa_kind == "syncro"
    assert dict(connection.members.values_list("agent__user__username", "member")) == {
        "alex": "21",
        "sam": "22",
    }
    assert "disabled; members: alex=21, sam=22" in output


def test_set_psa_reads_credentials_from_standard_input(acme, monkeypatch):
    monkeypatch.setattr("sys.stdin", StringIO(json.dumps({"api_key": "T0k3n-stdin"})))
    run("set_psa", "acme", "--kind", "syncro", "--url", "https://acme.syncromsp.com/api/v1",
        "--credentials", "-")  # fmt: skip
    assert PsaConnection.objects.get().credentials.reveal() == {"api_key": "T0k3n-stdin"}


@pytest.mark.parametrize(
    ("content", "args", "refusal"),
    [
        ({"company": "acmecorp", "public_key": "p"}, [], "lacks connectwise credential field(s)"),
        ({**CW, "private_key": ""}, [], "private_key"),
        ('{"company": "acmecorp",', [], "is not JSON"),
        ('["acmecorp"]', [], "must hold an object of text fields"),
        ({**CW, "client_id": 42}, [], "must hold an object of text fields"),
        (None, [], "Cannot read"),
        (CW, ["--member", "nobody=17"], "for an existing agent"),
        (CW, ["--member", "alex"], "write USERNAME=MEMBER"),
        (CW, ["--member", "alex="], "write USERNAME=MEMBER"),
        (CW, ["--url", "not a url"], "Enter a valid URL"),
    ],
)
def test_set_psa_refuses_bad_input_with_a_message_and_changes_nothing(
    acme, creds_file, tmp_path, content, args, refusal
):
    make_agent("alex")
    path = str(tmp_path / "missing.json") if content is None else creds_file(content)
    with pytest.raises(CommandError) as refused:
        run("set_psa", "acme", "--kind", "connectwise", "--url", CW_URL, "--credentials", path,
            *args)  # fmt: skip
    assert refusal in str(refused.value)
    assert "PRIV-set-psa-do-not-leak" not in str(refused.value)
    assert not PsaConnection.objects.exists()
    acme.refresh_from_db()
    assert acme.psa_kind == "none"


def test_set_psa_refuses_an_unknown_client(db, creds_file):
    with pytest.raises(CommandError, match="No client 'nobody'"):
        run("set_psa", "nobody", "--kind", "connectwise", "--url", CW_URL,
            "--credentials", creds_file(CW))  # fmt: skip
    assert not PsaConnection.objects.exists()


def test_set_psa_refuses_an_unknown_kind(acme, creds_file):
    with pytest.raises(CommandError, match="invalid choice: 'kaseya'"):
        run("set_psa", "acme", "--kind", "kaseya", "--url", CW_URL,
            "--credentials", creds_file(CW))  # fmt: skip


def test_a_failed_update_keeps_the_connection_as_it_was(acme, creds_file):
    run("set_psa", "acme", "--kind", "connectwise", "--url", CW_URL,
        "--credentials", creds_file(CW))  # fmt: skip
    with pytest.raises(CommandError):
        run("set_psa", "acme", "--kind", "syncro", "--url", "https://acme.syncromsp.com/api/v1",
            "--credentials", creds_file(CW, "wrong-kind.json"))  # fmt: skip
    connection = PsaConnection.objects.get()
    assert (connection.kind, connection.credentials.reveal()) == ("connectwise", CW)


# --- sweep_writebacks ---------------------------------------------------------------------


def test_sweep_writebacks_queues_overdue_rows_and_says_how_many(connect, log_time, run_jobs):
    sim, _ = connect("connectwise")
    log_time()  # recorded while the queue was unreachable: it waits, pending
    assert run("sweep_writebacks") == "queued 0 write-back(s)\n"  # not overdue yet
    WriteBack.objects.update(next_attempt_at=timezone.now() - timedelta(minutes=5))
    with run_jobs():
        output = run("sweep_writebacks")
    assert output == "queued 1 write-back(s)\n"
    assert WriteBack.objects.get().state == "sent"
    assert len(sim.entries()) == 1


def test_sweep_writebacks_takes_a_shorter_grace(connect, log_time, run_jobs):
    connect("connectwise")
    log_time()
    WriteBack.objects.update(next_attempt_at=timezone.now() - timedelta(seconds=30))
    assert run("sweep_writebacks") == "queued 0 write-back(s)\n"
    with run_jobs():
        assert run("sweep_writebacks", "--grace", "10") == "queued 1 write-back(s)\n"
    assert WriteBack.objects.get().state == "sent"


# --- psa_simulator ------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture
def simulator_process():
    """simulator_process(*args) -> (process, the lines it printed up to "Ctrl-C stops.")."""
    started = []

    def start(*args: str):
        env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "REDIS_URL")}
        process = subprocess.Popen(
            [sys.executable, "manage.py", "psa_simulator", *args],
            cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        )  # fmt: skip
        started.append(process)
        lines = []
        for line in process.stdout:
            lines.append(line.rstrip("\n"))
            if line.startswith("Ctrl-C stops."):
                return process, lines
        raise AssertionError(f"it stopped early: {lines} {process.stderr.read()}")

    yield start
    for process in started:
        if process.poll() is None:
            process.kill()
        process.wait(timeout=10)
        process.stdout.close()
        process.stderr.close()


def served(lines: list[str]) -> dict[str, tuple[str, dict]]:
    """kind -> (base URL, credentials), from the lines the command printed."""
    found = {}
    for line in lines:
        kind, sep, rest = line.partition(": base URL ")
        if sep:
            url, _, creds = rest.partition("  credentials ")
            found[kind] = (url, json.loads(creds))
    return found


def stop(process: subprocess.Popen) -> int:
    process.send_signal(signal.SIGTERM)
    return process.wait(timeout=10)


def test_psa_simulator_serves_one_kind_on_a_port_until_sigterm(simulator_process):
    port = free_port()
    process, lines = simulator_process("--kind", "connectwise", "--port", str(port))
    ((kind, (base_url, creds)),) = served(lines).items()
    root = f"http://127.0.0.1:{port}"
    assert (kind, base_url) == ("connectwise", f"{root}/v4_6_release/apis/3.0")
    assert creds == Simulator("connectwise").credentials()
    stats = httpx.get(f"{root}/_sim/stats", timeout=5).json()
    assert (stats["kind"], stats["requests"]) == ("connectwise", 0)
    answer = httpx.get(f"{base_url}/system/info", timeout=5)
    assert answer.status_code == 401  # a PSA: no credentials, no answer
    assert httpx.get(f"{root}/_sim/stats", timeout=5).json()["statuses"] == {"401": 1}
    assert stop(process) == 0  # on SIGTERM, within stop()'s ten seconds, not killed
    with pytest.raises(httpx.ConnectError):
        httpx.get(f"{root}/_sim/stats", timeout=2)


def test_psa_simulator_serves_every_kind_under_its_name(simulator_process):
    port = free_port()
    process, lines = simulator_process("--kind", "all", "--port", str(port))
    kinds = served(lines)
    assert sorted(kinds) == ["autotask", "connectwise", "halopsa", "syncro"]
    for kind, (base_url, creds) in kinds.items():
        assert base_url.startswith(f"http://127.0.0.1:{port}/{kind}")
        assert creds == Simulator(kind).credentials()
        stats = httpx.get(f"http://127.0.0.1:{port}/{kind}/_sim/stats", timeout=5).json()
        assert stats["kind"] == kind
    assert stop(process) == 0


def test_psa_simulator_takes_its_faults_and_limits_from_the_command_line(simulator_process):
    port = free_port()
    process, _ = simulator_process(
        "--kind", "syncro", "--port", str(port), "--error-rate", "0.5", "--latency", "0.01",
        "--rate-limit", "90", "--per", "60", "--seed", "7",
    )  # fmt: skip
    stats = httpx.get(f"http://127.0.0.1:{port}/_sim/stats", timeout=5).json()
    assert stats["faults"]["error_rate"] == 0.5
    assert stats["faults"]["latency"] == 0.01
    assert (stats["limits"]["requests"], stats["limits"]["per_seconds"]) == (90, 60.0)
    assert stop(process) == 0


@pytest.mark.parametrize(
    ("args", "refusal"),
    [
        (["--kind", "kaseya"], "Unknown kind(s): kaseya"),
        (["--kind", "connectwise", "--error-rate", "1.5"], "--error-rate is a share between 0"),
        (["--kind", "connectwise", "--lost-rate", "-0.1"], "--lost-rate is a share between 0"),
        (["--kind", "connectwise", "--timeout-rate", "2"], "--timeout-rate is a share between 0"),
    ],
)
def test_psa_simulator_refuses_a_bad_kind_or_rate(args, refusal):
    with pytest.raises(CommandError) as refused:
        run("psa_simulator", *args, "--port", str(free_port()))
    assert refusal in str(refused.value)


def test_psa_simulator_refuses_a_port_in_use():
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        with pytest.raises(CommandError, match=f"Cannot listen on 127.0.0.1:{port}"):
            run("psa_simulator", "--kind", "syncro", "--port", str(port))
