"""The delivery projection: folds the store's Notification events into ``deliveries``.

The notifier and the sender already write a row as they change a Notification; this loop is what makes
the table a read model: it follows the store's notification log (Notification topics only) and writes
each aggregate's state, so a lost or dropped row comes back, and a projection under a new name replays
everything into identical rows. Rows never go back to an older version, so it can run in every notifier.
"""

from __future__ import annotations

import threading
import uuid
from collections.abc import Sequence
from typing import Any

import psycopg
import structlog
from eventsourcing.persistence import Notification as StoredNotification

from ipe_claims.adapters import delivery_log
from ipe_claims.adapters.loops import supervised
from ipe_claims.application.claims import ClaimsApplication
from ipe_claims.settings import Settings

log = structlog.get_logger()
BATCH = 500


class DeliveryProjection:
    def __init__(self, settings: Settings, app: ClaimsApplication, name: str = "deliveries") -> None:
        self.settings = settings
        self.app = app
        self.name = name

    def position(self, conn: psycopg.Connection[Any]) -> int:
        return delivery_log.projected(conn, self.name)

    def catch_up(self, conn: psycopg.Connection[Any]) -> int:
        """Project the next batch of Notification events; return how many were read."""
        events = self.app.notifications(self.position(conn), BATCH, delivery_log.NOTIFICATION_TOPICS)
        if not events:
            return 0
        for notification in self.app.get_many(self._behind(conn, events)).values():
            # One statement, its own transaction (autocommit): never waits on a row while holding another.
            delivery_log.upsert(conn, notification)
        delivery_log.advance_projection(conn, self.name, events[-1].id)
        return len(events)

    @staticmethod
    def _behind(conn: psycopg.Connection[Any], events: Sequence[StoredNotification]) -> list[uuid.UUID]:
        """The Notifications whose row is missing or older than their newest event in ``events``.

        The notifier and the sender write a row as they save each version, so the row is mostly there
        already: the upsert would change nothing (it never lowers a version), yet the aggregate would be
        loaded and the statement sent for every event. A row that is behind is rewritten from the
        aggregate's current state, as before; one whose later versions are beyond ``events`` is brought
        up when they are read."""
        newest: dict[uuid.UUID, int] = {}
        for event in events:
            notification_id = uuid.UUID(str(event.originator_id))
            newest[notification_id] = max(newest.get(notification_id, 0), event.originator_version)
        rows = delivery_log.versions(conn, newest)
        return [key for key, version in newest.items() if rows.get(key, 0) < version]

    def run(self, stop: threading.Event) -> None:
        # A bug too is retried later: the position is intact.
        supervised(lambda conn: 0.0 if self.catch_up(conn) else 0.2, stop, "delivery_projection",
                   database_url=self.settings.database.url, survive_bugs=True)  # fmt: skip
