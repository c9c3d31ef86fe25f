"""Imports point down only (DESIGN.md): clients <- tickets <- telephony, psasync <- helpdesk.

desklib, the pure helpers, imports none of the apps and no Django models.
"""

import ast
from pathlib import Path

import pytest

from tests.mails import REPO

FORBIDDEN = {
    "desklib": {"clients", "tickets", "telephony", "psasync", "helpdesk", "django.db"},
    "clients": {"tickets", "telephony", "psasync", "helpdesk"},
    "tickets": {"telephony", "psasync", "helpdesk"},
    "telephony": {"psasync", "helpdesk"},
    "psasync": {"telephony", "helpdesk"},
}


def imported_modules(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(), filename=str(path))
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.add(node.module)
    return names


@pytest.mark.parametrize("package", sorted(FORBIDDEN))
def test_a_layer_imports_nothing_above_it(package):
    offences = []
    for path in sorted((REPO / package).rglob("*.py")):
        for module in imported_modules(path):
            if any(module == f or module.startswith(f + ".") for f in FORBIDDEN[package]):
                offences.append(f"{path.relative_to(REPO)} imports {module}")
    assert offences == []


def test_the_check_sees_an_upward_import(tmp_path):
    bad = tmp_path / "x.py"
    bad.write_text("from tickets.models import Ticket\nimport helpdesk.settings\n")
    assert imported_modules(bad) == {"tickets.models", "helpdesk.settings"}
