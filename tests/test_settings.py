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
