"""The claims application is the one boundary to the event store (issue 15 point 1): outside
``ipe_claims/application/claims.py`` no code reads the library's ``recorder``, ``mapper``,
``repository`` or ``events`` of an application; it calls a ``ClaimsApplication`` method instead."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
ALLOWED = {Path("ipe_claims/application/claims.py")}
INTERNALS = {"recorder", "_recorder", "mapper", "repository"}
EVENT_STORE_CALLS = {"get", "put"}  # ``app.events.get(...)``: ``events`` alone names other things too


def reaches(source: str) -> list[tuple[int, str]]:
    """(line, expression) of each reach into the event store's internals in ``source``."""
    found = []
    for node in ast.walk(ast.parse(source)):
        if not isinstance(node, ast.Attribute):
            continue
        into_events = (
            node.attr in EVENT_STORE_CALLS
            and isinstance(node.value, ast.Attribute)
            and node.value.attr == "events"
        )
        if node.attr in INTERNALS or into_events:
            found.append((node.lineno, ast.unparse(node)))
    return sorted(found)


def offenders(root: Path = ROOT) -> list[str]:
    files = sorted(p for folder in ("ipe_claims", "services") for p in (root / folder).rglob("*.py"))
    return [
        f"{path.relative_to(root)}:{line}: {expression}"
        for path in files
        if path.relative_to(root) not in ALLOWED
        for line, expression in reaches(path.read_text(encoding="utf-8"))
    ]


def test_nothing_outside_the_claims_application_reaches_into_the_event_store() -> None:
    assert offenders() == []


def test_the_check_sees_each_kind_of_reach() -> None:
    source = (
        "app.recorder.select_notifications(start=0, limit=1)\n"
        "RecordDecoder(self.app.mapper)\n"
        "claim = store.repository.get(claim_id)\n"
        "recorder = app._recorder\n"
        "events = list(app.events.get(claim_id))\n"
        "count = sealed.events\n"  # another object's ``events``: not the event store
    )
    assert [line for line, _ in reaches(source)] == [1, 2, 3, 4, 5]


def test_the_check_fails_on_a_reach_outside_the_claims_application(tmp_path: Path) -> None:
    (tmp_path / "ipe_claims" / "application").mkdir(parents=True)
    (tmp_path / "services" / "relay").mkdir(parents=True)
    (tmp_path / "ipe_claims" / "application" / "claims.py").write_text("x = self.mapper\n")
    (tmp_path / "services" / "relay" / "relay.py").write_text("ok = 1\nx = app.mapper.to_domain_event(n)\n")
    assert offenders(tmp_path) == ["services/relay/relay.py:2: app.mapper"]
