"""The delivery projection brings every ``deliveries`` row to its Notification's current state: a
missing row comes back, a row behind its newest version is rewritten, a current one stays as it is."""

from __future__ import annotations

import uuid
from typing import Any

import psycopg
import pytest

from ipe_claims.adapters import delivery_log
from ipe_claims.application.claims import ClaimsApplication
from ipe_claims.domain.notification import EMAIL, SMS, Notification
from ipe_claims.settings import Settings
from services.notifier.projection import DeliveryProjection

pytestmark = pytest.mark.integration
COLUMNS = ", ".join(delivery_log._COLUMNS)


def rows(conn: psycopg.Connection[Any], ids: list[uuid.UUID]) -> dict[uuid.UUID, tuple[Any, ...]]:
    found = conn.execute(f"SELECT {COLUMNS} FROM deliveries WHERE delivery_id = ANY(%s)", (ids,)).fetchall()
    return {row[0]: tuple(row) for row in found}


def test_missing_and_stale_rows_are_rewritten_and_current_ones_kept(
    settings: Settings, claims_app: ClaimsApplication, conn: psycopg.Connection[Any]
) -> None:
    def request(channel: str) -> Notification:
        return Notification.request(
            uuid.uuid4(), uuid.uuid4(), "valid", channel, "x@example.ma", "fr", "ipe.ma"
        )

    missing, behind, current, attempted = request(EMAIL), request(SMS), request(EMAIL), request(EMAIL)
    claims_app.save(missing, behind, current, attempted)
    delivery_log.upsert(conn, behind, current)
    attempted.attempt()
    delivery_log.upsert(conn, attempted)
    claims_app.save(attempted)  # its row was written at version 2 before the event was stored
    behind.attempt()
    claims_app.save(behind)  # its row stays at version 1
    ids = [n.id for n in (missing, behind, current, attempted)]
    expected = {n.id: delivery_log.row_of(n) for n in (missing, behind, current, attempted)}
    assert rows(conn, ids) != expected

    projection = DeliveryProjection(settings, claims_app, name=f"test-{uuid.uuid4()}")
    while projection.catch_up(conn):
        pass
    assert rows(conn, ids) == expected
    assert expected[behind.id][5:7] == ("pending", 1) and expected[behind.id][-1] == 2
