"""The events table is kept away from autovacuum: every append locks it in EXCLUSIVE mode, which an
autovacuum's lock blocks until Postgres cancels the vacuum a second later (docs/operations.md)."""

from __future__ import annotations

from typing import Any

import psycopg
import pytest

from ipe_claims.adapters.event_store import make_app
from ipe_claims.settings import Settings

pytestmark = pytest.mark.integration


def autovacuum_off(conn: psycopg.Connection[Any]) -> tuple[bool, bool]:
    """For the events table, and for its TOAST table."""
    row = conn.execute(
        "SELECT coalesce(t.reloptions, '{}'), coalesce(toast.reloptions, '{}') FROM pg_class t "
        "LEFT JOIN pg_class toast ON toast.oid = t.reltoastrelid WHERE t.oid = 'public.ipe_events'::regclass"
    ).fetchone()
    assert row is not None
    return "autovacuum_enabled=false" in row[0], "autovacuum_enabled=false" in row[1]


def test_creating_the_store_turns_autovacuum_off_for_its_events_table_and_its_toast(
    settings: Settings, conn: psycopg.Connection[Any]
) -> None:
    assert autovacuum_off(conn) == (True, True)


def test_the_setting_is_put_back_when_someone_removed_it(
    settings: Settings, conn: psycopg.Connection[Any]
) -> None:
    conn.execute("ALTER TABLE ipe_events RESET (autovacuum_enabled)")
    conn.execute("ALTER TABLE ipe_events RESET (toast.autovacuum_enabled)")
    try:
        assert autovacuum_off(conn) == (False, False)
        make_app(settings, create_tables=True).close()  # what `ipe up` and the bench do at start
        assert autovacuum_off(conn) == (True, True)
    finally:
        make_app(settings, create_tables=True).close()
