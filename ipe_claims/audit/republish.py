"""Re-publication: move the relay's position back so the running relay publishes the store's events again.

The relay reads its position before every batch, so a new value takes effect within one batch. A relay
caught mid-batch (only possible while it has a backlog) may write the end of that batch after we moved
the position, undoing the reset; in that case the reset is made again once that batch must be over,
which can re-publish some events twice. That is harmless: consumers key their effects by event id,
which is what makes re-publication safe at all.
"""

from __future__ import annotations

import time
from typing import Any

import psycopg

from ipe_claims.audit.replay import last_claim_position

RELAY_NAME = "claim-events"
SETTLE_SECONDS = 2.0


def _position(conn: psycopg.Connection[Any]) -> int:
    row = conn.execute(
        "SELECT last_notification_id FROM relay_positions WHERE relay = %s", (RELAY_NAME,)
    ).fetchone()
    return int(row[0]) if row else 0


def _move(conn: psycopg.Connection[Any], position: int) -> None:
    conn.execute(
        "INSERT INTO relay_positions (relay, last_notification_id) VALUES (%s, %s) "
        "ON CONFLICT (relay) DO UPDATE SET last_notification_id = EXCLUDED.last_notification_id",
        (RELAY_NAME, position),
    )


def republish(conn: psycopg.Connection[Any], from_position: int, settle: float = SETTLE_SECONDS) -> int:
    """Set the relay's position to ``from_position``; return the position it had."""
    before = _position(conn)
    if from_position >= before:
        return before  # nothing published after that point yet: the relay gets there by itself
    busy = before < last_claim_position(conn)
    _move(conn, from_position)
    if busy:
        time.sleep(settle)
        if _position(conn) >= before:  # an in-flight batch may have overwritten the reset
            _move(conn, from_position)
    return before
