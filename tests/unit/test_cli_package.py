"""The ``ipe`` package has no cycle: an area imports ``context`` and the layers below, never the package that
assembles the areas nor another area; and its tables stay readable at 80 columns."""

from __future__ import annotations

import ast
import json
import os
import subprocess
import sys
from pathlib import Path

from rich.console import Console

import ipe_claims.entrypoints.cli as cli
from ipe_claims.entrypoints.cli.parked import parked_table

PACKAGE = "ipe_claims.entrypoints.cli"
ROOT = Path(cli.__file__).parent
ASSEMBLY = {"__init__", "__main__"}  # the root itself, and `python -m`, which runs the root


def imported(module: str, tree: ast.Module) -> set[str]:
    """Every module ``tree`` imports, absolute; ``from P import x`` counts as P and as P.x."""
    package = f"{PACKAGE}.{module}".rsplit(".", 1)[0]
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:  # relative: from the package the module sits in
                parent = package.rsplit(".", node.level - 1)[0] if node.level > 1 else package
                base = f"{parent}.{base}" if base else parent
            names |= {base} | {f"{base}.{alias.name}" for alias in node.names}
    return names


def forbidden(module: str, names: set[str]) -> set[str]:
    """The imports of ``module`` that would make a cycle: the package root, or an area other than context
    (context itself imports nothing of the package)."""

    def sibling(name: str) -> str:
        return name.removeprefix(f"{PACKAGE}.").split(".")[0]

    inside = {name for name in names if name == PACKAGE or name.startswith(f"{PACKAGE}.")}
    return {name for name in inside if name == PACKAGE or module == "context" or sibling(name) != "context"}


def test_no_area_imports_the_package_or_another_area() -> None:
    modules = sorted(path.stem for path in ROOT.glob("*.py"))
    assert "context" in modules and len(modules) > len(ASSEMBLY) + 5
    found = {
        module: forbidden(module, imported(module, ast.parse((ROOT / f"{module}.py").read_text())))
        for module in modules
        if module not in ASSEMBLY
    }
    assert {module: names for module, names in found.items() if names} == {}


def test_the_rule_catches_a_cycle() -> None:
    def bad(source: str, module: str = "accounts") -> set[str]:
        return forbidden(module, imported(module, ast.parse(source)))

    assert bad(f"from {PACKAGE} import console")
    assert bad(f"import {PACKAGE}")
    assert bad(f"from {PACKAGE}.portals import _kafka")
    assert bad("from . import portals")
    assert bad("from .ops import print_welcome")
    assert bad(f"from {PACKAGE}.accounts import app", module="context")
    assert not bad(f"from {PACKAGE}.context import console\nfrom .context import fail\nimport typer")


def test_every_area_is_registered_by_name_or_at_the_root() -> None:
    names = {info.name for info in cli.app.registered_groups}
    assert {"accounts", "audit", "claims", "contacts", "declarations", "parked", "portals", "relay"} <= names
    assert not cli.app.registered_commands  # no command is added any other way


def columns(text: str, border: str) -> list[str]:
    """The text of each column of a rendered table (its header with border ┃, its body with │), its lines
    joined without spaces, so that a cell wrapped or folded reads whole again."""
    lines = [line.split(border)[1:-1] for line in text.splitlines() if line.startswith(border)]
    return ["".join(cells).replace(" ", "") for cells in zip(*lines, strict=True)]


def test_the_parked_table_keeps_headings_and_cells_whole_at_80_columns() -> None:
    reason = "DecodeError: the record's schema id 4711 is unknown to the registry [writer schema missing]"
    rows = [{"id": 12, "consumer": "eligibility-projector", "topic": "ipe.claim-submissions.portail-rh-casablanca",
             "partition": 3, "offset": 1234567, "recorded_at": "2028-01-05T10:11:12.345678+00:00",
             "last_error": None, "reason": reason, "disposition": "parked"}]  # fmt: skip
    console = Console(width=80, record=True, color_system=None)
    console.print(parked_table(rows))
    text = console.export_text()
    assert max(len(line) for line in text.splitlines()) <= 80 and "…" not in text
    assert columns(text, "┃") == ["id", "consumer", "topic[partition]@offset", "since", "reason", "state"]
    assert columns(text, "│") == ["12", "eligibility-projector", "ipe.claim-submissions.portail-rh-casablanca[3]@1234567",
                                  "2028-01-05T10:11:12", reason.replace(" ", ""), "parked"]  # fmt: skip
    assert "2028-01-05T10:11:12" in text  # an instant never breaks


def test_ipe_status_at_80_columns(tmp_path: Path) -> None:
    home = tmp_path / "home"
    home.mkdir()
    services = {name: {"state": "stopped", "pid": None, "restarts": 0} for name in (
        "api", "relay", "ingress", "eligibility_projector", "declarations", "notifier", "sealer")}  # fmt: skip
    (home / "state.json").write_text(
        json.dumps({"phase": "stopped", "supervisor_pid": None, "services": services})
    )
    env = {k: v for k, v in os.environ.items() if k != "DATABASE_URL"} | {
        "IPE_HOME": str(home),
        "COLUMNS": "80",
    }
    done = subprocess.run([sys.executable, "-m", PACKAGE, "status"], env=env, capture_output=True, text=True,
                          timeout=60)  # fmt: skip
    assert done.returncode == 0, done.stderr
    table = done.stdout[done.stdout.index("┏") :]
    assert max(len(line) for line in table.splitlines()) <= 80
    assert columns(table, "┃") == ["service", "state", "pid", "restarts"]
    assert columns(table, "│")[0] == "".join(services) and "…" not in table
