"""A bad environment value stops start-up with a message naming the variable."""

import os
import subprocess
import sys

import pytest

from tests.mails import REPO


def start(**env: str) -> subprocess.CompletedProcess:
    base = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "REDIS_URL", "DEBUG")}
    base["DJANGO_SETTINGS_MODULE"] = "helpdesk.settings"
    return subprocess.run(
        [sys.executable, "-c", "import django; django.setup()"],
        cwd=REPO, env={**base, **env}, capture_output=True, text=True, timeout=60,
    )  # fmt: skip


def test_defaults_start_on_a_bare_machine():
    assert start().returncode == 0


@pytest.mark.parametrize(
    ("env", "named"),
    [
        ({"DATABASE_URL": "nosuchdb://x/y"}, "DATABASE_URL"),
        ({"REDIS_URL": "localhost:6379"}, "REDIS_URL"),
        ({"DEBUG": "perhaps"}, "DEBUG"),
        ({"DEBUG": "false"}, "SECRET_KEY"),
        (
            {"DEBUG": "false", "SECRET_KEY": "s" * 50, "ALLOWED_HOSTS": "desk.example"},
            "ANYMAIL_WEBHOOK_SECRET",
        ),
        ({"ANYMAIL_WEBHOOK_SECRET": "no-colon"}, "ANYMAIL_WEBHOOK_SECRET"),
        (
            {"DEBUG": "false", "SECRET_KEY": "s" * 50, "ANYMAIL_WEBHOOK_SECRET": "u:p"},
            "ALLOWED_HOSTS",
        ),
        ({"REDIS_URL": "redis://127.0.0.1:notaport/0"}, "REDIS_URL"),
        ({"LOG_LEVEL": "LOUD"}, "LOG_LEVEL"),
    ],
)
def test_a_bad_value_fails_at_start_up_naming_the_variable(env, named):
    result = start(**env)
    assert result.returncode != 0
    assert named in result.stderr.splitlines()[-1]


PRODUCTION = {
    "DEBUG": "false",
    "SECRET_KEY": "s" * 50,
    "ALLOWED_HOSTS": "desk.example",
    "ANYMAIL_WEBHOOK_SECRET": "u:p",
}
DEV_FIELD_KEY = "ZGV2LW9ubHktZmllbGQta2V5LWNoYW5nZS1tZS0wMDA="
FIELD_KEYS = [
    "q2d9mVv0pZbQy8gJ0Yk1xH3d6yF4nR7tW2cL5aE8uUo=",
    "m3N9xB2vC5zL8kJ4hG7fD1sA6qW0eR3tY9uI2oP5aS8=",
]


@pytest.mark.parametrize(
    "keys",
    [
        "not-a-fernet-key",
        f"{FIELD_KEYS[0]},short",
        "",
    ],
)
def test_field_encryption_keys_that_are_not_fernet_keys_stop_start_up(keys):
    result = start(FIELD_ENCRYPTION_KEYS=keys)
    assert result.returncode != 0
    assert "FIELD_ENCRYPTION_KEYS" in result.stderr.splitlines()[-1]


@pytest.mark.parametrize("keys", [None, DEV_FIELD_KEY, f"{FIELD_KEYS[0]},{DEV_FIELD_KEY}"])
def test_production_requires_field_encryption_keys_of_its_own(keys, monkeypatch):
    monkeypatch.delenv("FIELD_ENCRYPTION_KEYS", raising=False)
    env = PRODUCTION if keys is None else {**PRODUCTION, "FIELD_ENCRYPTION_KEYS": keys}
    result = start(**env)
    assert result.returncode != 0
    assert "FIELD_ENCRYPTION_KEYS" in result.stderr.splitlines()[-1]


def test_production_starts_with_a_list_of_keys_for_rotation():
    result = start(**PRODUCTION, FIELD_ENCRYPTION_KEYS=",".join(FIELD_KEYS))
    assert result.returncode == 0, result.stderr
