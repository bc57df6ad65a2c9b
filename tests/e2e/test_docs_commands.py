"""Every ``sh`` block of README.md and docs/*.md runs, in order, against a system started as `make run` starts
it (`ipe up`, on free ports), as one terminal session: from a folder holding the checkout's `.venv`, each
block sees the variables the blocks before it set (the README's URL, TODAY, TOKEN), and `ipe` is on the
PATH once the README's `source .venv/bin/activate` has run.

A block that cannot run here says so on the line above it, with its reason
(``<!-- docs-test: skip — why -->``); a block without that line must exit 0 and print no API error.
The ports come from the running system (`ipe status --json`), as the README tells a newcomer to do.

Every ``sql`` block runs too, after them, on the system's database, as an analyst or operator would run
it; a block that reads the ``analytics`` schema runs as the ``analyst`` role, whose rights the docs
describe, so a query that needs more than those fails here.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import psycopg
import pytest

from ipe_claims.operations.supervisor import read_state
from tests.e2e.test_system import System
from tests.e2e.test_system import system as system

pytestmark = pytest.mark.e2e
ROOT = Path(__file__).resolve().parents[2]
DOCS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
_BLOCK = re.compile(
    r"(?:^<!-- docs-test: skip — (?P<why>[^\n]+?) -->\n)?^```sh\n(?P<code>.*?)^```$", re.M | re.S
)
_SQL = re.compile(
    r"(?:^<!-- docs-test: skip — (?P<why>[^\n]+?) -->\n)?^```sql\n(?P<code>.*?)^```$", re.M | re.S
)


@dataclass(frozen=True)
class Block:
    path: Path
    line: int
    code: str
    skip: str | None

    def __str__(self) -> str:
        return f"{self.path.relative_to(ROOT)}:{self.line}"


def blocks(fence: re.Pattern[str] = _BLOCK) -> Iterator[Block]:
    for path in DOCS:
        text = path.read_text(encoding="utf-8")
        for found in fence.finditer(text):
            yield Block(path, text.count("\n", 0, found.start("code")), found["code"], found["why"])


def test_every_sh_and_sql_block_runs_or_says_why_not() -> None:
    found = list(blocks())
    assert sum(block.skip is None for block in found) >= 4, [str(b) for b in found]
    queries = list(blocks(_SQL))
    assert sum(block.skip is None for block in queries) >= 2, [str(b) for b in queries]
    assert all(block.skip is None or len(block.skip) > 20 for block in [*found, *queries])


def test_the_docs_commands_run(system: System, tmp_path: Path) -> None:
    (tmp_path / ".venv").symlink_to(sys.prefix)
    venv_bin = str(Path(sys.prefix) / "bin")
    path = os.pathsep.join(part for part in system.env["PATH"].split(os.pathsep) if part != venv_bin)
    env = {key: value for key, value in system.env.items() if key != "VIRTUAL_ENV"} | {"PATH": path}
    state = tmp_path / "session.sh"
    state.write_text("")
    ran = []
    for block in blocks():
        if block.skip:
            continue
        session = f"source {state}\nset -a\n{block.code}\nexport -p > {state}\n"
        done = subprocess.run(["bash", "-eo", "pipefail", "-c", session], cwd=tmp_path, env=env,
                              capture_output=True, text=True, timeout=300)  # fmt: skip
        assert done.returncode == 0, f"{block}: {done.stdout}{done.stderr}"
        assert '"error"' not in done.stdout, f"{block}: {done.stdout}"
        ran.append(str(block))
    assert any(name.startswith("README.md") for name in ran)
    report = (tmp_path / "report.html").read_text(encoding="utf-8")
    assert "Aucune demande déposée dans la période" not in report  # the documented range holds the claims
    simulated = (tmp_path / "cgem.html").read_text(encoding="utf-8")
    assert re.search(r"(\d+) demandes décidées rejouées", simulated)
    assert not re.search(r">0 demandes décidées rejouées|\b0 demandes décidées rejouées", simulated)
    _run_sql_blocks(system)


def _run_sql_blocks(system: System) -> None:
    """The docs' SQL on the running system's database (its URL from the private state file)."""
    state = read_state(system.home) or {}
    ran = []
    with psycopg.connect(str(state["database_url"]), autocommit=True) as conn:
        for block in blocks(_SQL):
            if block.skip:
                continue
            analyst = "analytics." in block.code
            if analyst:
                conn.execute("SET ROLE analyst")
            try:
                for statement in filter(str.strip, block.code.split(";")):
                    if statement.strip().startswith("--") and "\n" not in statement.strip():
                        continue
                    conn.execute(statement.encode())  # bytes: psycopg takes the docs' text as it is
            except psycopg.Error as exc:
                raise AssertionError(f"{block}: {exc}") from exc
            finally:
                if analyst:
                    conn.execute("RESET ROLE")
            ran.append(str(block))
    assert any(name.startswith("docs/analytics.md") for name in ran), ran
