"""The delivery projection: folds the store's Notification events into ``deliveries``.

The notifier and the sender already write a row as they change a Notification; this loop is what makes
the table a read model: it follows the store's notification log (Notification topics only) and writes
each aggregate's state, so a lost or dropped row comes back, and a projection under a new name replays
everything into identical rows. Rows never go back to an older version, so it can run in every notifier.
"""

from __future__ import annotations

import threading
import uuid
from typing import Any

import psycopg
import structlog

from ipe_claims.adapters import delivery_log
from ipe_claims.application import ClaimsApplication
from ipe_claims.domain.notification import Notification
from ipe_claims.settings import Settings

log = structlog.get_logger()
BATCH = 500


class DeliveryProjection:
    def __init__(self, settings: Settings, app: ClaimsApplication, name: str = "deliveries") -> None:
        self.settings = settings
        self.app = app
        self.name = name

    def position(self, conn: psycopg.Connection[Any]) -> int:
        row = conn.execute(
            "SELECT last_notification_id FROM delivery_projection_positions WHERE projection = %s",
            (self.name,),
        ).fetchone()
        return int(row[0]) if row else 0

    def catch_up(self, conn: psycopg.Connection[Any]) -> int:
        """Project the next batch of Notification events; return how many were read."""
        events = self.app.recorder.select_notifications(
            start=self.position(conn), limit=BATCH, topics=delivery_log.NOTIFICATION_TOPICS,
            inclusive_of_start=False,
        )  # fmt: skip
        if not events:
            return 0
        ids = dict.fromkeys(uuid.UUID(str(event.originator_id)) for event in events)
        for notification in self.app.get_many(list(ids)).values():
            assert isinstance(notification, Notification)
            # One statement, its own transaction (autocommit): never waits on a row while holding another.
            delivery_log.upsert(conn, notification)
        conn.execute(
            "INSERT INTO delivery_projection_positions (projection, last_notification_id) VALUES (%s, %s) "
            "ON CONFLICT (projection) DO UPDATE SET last_notification_id = "
            "GREATEST(delivery_projection_positions.last_notification_id, EXCLUDED.last_notification_id)",
            (self.name, events[-1].id),
        )
        return len(events)

    def run(self, stop: threading.Event) -> None:
        while not stop.is_set():
            try:
                with psycopg.connect(self.settings.database_url, autocommit=True) as conn:
                    while not stop.is_set():
                        if self.catch_up(conn) == 0:
                            stop.wait(0.2)
            except Exception as exc:  # database down or a bug: the position is intact, retry later
                log.warning("delivery_projection.retry", error=type(exc).__name__)
                stop.wait(1.0)
