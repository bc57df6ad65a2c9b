"""Tamper evidence: `ipe audit verify` names the event that was altered, removed or inserted directly in
Postgres, and notices seals rewritten to match. Each test tampers with a database of its own."""

from __future__ import annotations

import dataclasses
import uuid
from collections.abc import Iterator
from typing import Any

import psycopg
import pytest

from ipe_claims.adapters.event_store import make_app
from ipe_claims.adapters.migrations import migrate
from ipe_claims.application.claims import ClaimsApplication
from ipe_claims.audit.seal import content_hash
from ipe_claims.settings import Settings
from tests.conftest import declare
from tests.integration.audit_helpers import file_claim, run_cli

pytestmark = pytest.mark.integration


@dataclasses.dataclass
class Store:
    settings: Settings
    app: ClaimsApplication
    conn: psycopg.Connection[Any]
    claims: list[uuid.UUID]

    def cli(self, *args: str) -> Any:
        return run_cli(self.settings, *args, database_url=self.settings.database.url)

    def notification_id(self, claim_id: uuid.UUID, version: int) -> int:
        row = self.conn.execute(
            "SELECT notification_id FROM ipe_events WHERE originator_id = %s AND originator_version = %s",
            (claim_id, version),
        ).fetchone()
        assert row
        return int(row[0])


@pytest.fixture
def store(settings: Settings) -> Iterator[Store]:
    name = f"audit_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(settings.database.url, autocommit=True) as admin:
        admin.execute(f"CREATE DATABASE {name}")
    own = settings.changed(database={"url": settings.database.url.rsplit("/", 1)[0] + f"/{name}"})
    migrate(own.database.url)
    app = make_app(own, create_tables=True)
    try:
        with psycopg.connect(own.database.url, autocommit=True) as conn:
            claims = [file_claim(app, declare(conn, months=36)) for _ in range(4)]
            yield Store(own, app, conn, claims)
    finally:
        app.close()
        with psycopg.connect(settings.database.url, autocommit=True) as admin:
            admin.execute(f"DROP DATABASE {name} WITH (FORCE)")


def sealed(store: Store) -> None:
    result = store.cli("audit", "seal")
    assert result.exit_code == 0, result.output
    assert "Sealed" in result.output


def test_an_untouched_store_verifies_clean(store: Store) -> None:
    sealed(store)
    result = store.cli("audit", "verify")
    assert result.exit_code == 0, result.output
    assert "No event was altered, removed or inserted" in result.output
    assert "0 not sealed yet" in result.output


def test_an_unknown_expected_digest_is_named_as_such_not_as_tampered_events(store: Store) -> None:
    sealed(store)
    result = store.cli("audit", "verify", "--expect", "ab" * 32)
    assert result.exit_code == 1, result.output
    assert "DIGEST-UNKNOWN" in result.output and "never part of this history" in result.output
    assert "tampered event" not in result.output  # no event was touched


def test_an_edited_event_is_named(store: Store) -> None:
    sealed(store)
    victim = store.claims[1]
    store.conn.execute(
        "UPDATE ipe_events SET state = convert_to(replace(convert_from(state, 'UTF8'), 'licenciement', 'demission'), 'UTF8') "
        "WHERE originator_id = %s AND originator_version = 1",
        (victim,),
    )
    result = store.cli("audit", "verify")
    assert result.exit_code == 1, result.output
    assert (
        f"ALTERED: stream {victim} event #1 (notification {store.notification_id(victim, 1)})"
        in result.output
    )
    assert "1 tampered event(s)" in result.output


def test_a_deleted_event_is_named(store: Store) -> None:
    sealed(store)
    victim = store.claims[2]
    position = store.notification_id(victim, 1)
    store.conn.execute("DELETE FROM ipe_events WHERE originator_id = %s", (victim,))
    result = store.cli("audit", "verify")
    assert result.exit_code == 1, result.output
    assert f"REMOVED: stream {victim} event #1 (notification {position})" in result.output


def test_an_event_inserted_among_sealed_ones_is_named(store: Store) -> None:
    # A gap in the global order (as a rolled-back append leaves), then more events, all sealed.
    gap = store.conn.execute(
        "SELECT nextval(pg_get_serial_sequence('ipe_events', 'notification_id'))"
    ).fetchone()
    file_claim(store.app, declare(store.conn, months=36))
    sealed(store)
    forged = uuid.uuid4()
    store.conn.execute(
        "INSERT INTO ipe_events (originator_id, originator_version, topic, state, notification_id) "
        "SELECT %s, 1, topic, state, %s FROM ipe_events WHERE originator_id = %s AND originator_version = 1",
        (forged, gap[0] if gap else None, store.claims[0]),
    )
    result = store.cli("audit", "verify")
    assert result.exit_code == 1, result.output
    assert f"INSERTED: stream {forged} event #1 (notification {gap[0] if gap else ''})" in result.output


def test_events_appended_after_the_last_seal_are_counted_not_accused(store: Store) -> None:
    sealed(store)
    file_claim(store.app, declare(store.conn, months=36))
    result = store.cli("audit", "verify")
    assert result.exit_code == 0, result.output
    assert "not sealed yet" in result.output and " 0 not sealed yet" not in result.output


def test_rewriting_the_seal_too_breaks_the_digest_and_a_digest_kept_outside(store: Store) -> None:
    sealed(store)
    kept = store.cli("audit", "verify").output.split("digest ")[1].split(".")[0]
    victim = store.claims[3]
    store.conn.execute(
        "UPDATE ipe_events SET state = convert_to(replace(convert_from(state, 'UTF8'), 'http', 'kafka'), 'UTF8') "
        "WHERE originator_id = %s AND originator_version = 1",
        (victim,),
    )
    row = store.conn.execute(
        "SELECT originator_id, originator_version, notification_id, topic, state FROM ipe_events "
        "WHERE originator_id = %s AND originator_version = 1",
        (victim,),
    ).fetchone()
    assert row
    store.conn.execute(
        "UPDATE audit_event_seals SET content_hash = %s WHERE originator_id = %s AND originator_version = 1",
        (content_hash(*row), victim),
    )
    result = store.cli("audit", "verify", "--expect", kept)
    assert result.exit_code == 1, result.output
    assert "ALTERED" not in result.output  # the event matches its (forged) seal …
    assert f"SEAL-CHAIN-BROKEN: stream {victim} event #1" in result.output  # … which no longer chains
    assert "DIGEST-MISMATCH" in result.output


def test_the_sealer_process_seals_what_is_appended(store: Store) -> None:
    import threading

    from ipe_claims.audit.seal import run
    from tests.conftest import wait_for

    stop = threading.Event()
    thread = threading.Thread(target=run, args=(store.settings.database.url, stop, 0.1), daemon=True)
    thread.start()
    try:
        late = file_claim(store.app, declare(store.conn, months=36))
        wait_for(
            lambda: store.conn.execute(
                "SELECT 1 FROM audit_event_seals WHERE originator_id = %s", (late,)
            ).fetchone(),
            10,
            "the new claim sealed",
        )
    finally:
        stop.set()
        thread.join(timeout=5)
    assert store.cli("audit", "verify").exit_code == 0
