"""The ``deliveries`` read model: one row per Notification aggregate, written from its current state,
and ``notifications``: each claim event's message in both languages.

Writers (the notifier on request, the sender after each attempt, the projection on replay) all write
the whole state with its version and never let an older version overwrite a newer one, so they
converge whatever their order. The same table is the senders' queue (``PostgresDeliveryQueue``).
"""

from __future__ import annotations

import uuid
from collections.abc import Collection, Sequence
from datetime import datetime
from typing import Any

import psycopg
from eventsourcing.utils import get_topic

from ipe_claims.application.ports import Due, Message, Texts
from ipe_claims.domain.notification import Notification

NOTIFICATION_TOPICS = tuple(
    get_topic(cls)
    for cls in (
        Notification.Requested,
        Notification.Attempted,
        Notification.Sent,
        Notification.Failed,
        Notification.Undeliverable,
    )
)
_COLUMNS = (
    "delivery_id", "event_id", "claim_id", "kind", "channel", "status", "attempts", "possible_duplicates",
    "message_id", "reason", "requested_at", "last_attempt_at", "sent_at", "next_attempt_at", "version",
)  # fmt: skip
_UPSERT = (
    f"INSERT INTO deliveries ({', '.join(_COLUMNS)}) VALUES ({', '.join(['%s'] * len(_COLUMNS))}) "
    f"ON CONFLICT (delivery_id) DO UPDATE SET "
    + ", ".join(f"{name} = EXCLUDED.{name}" for name in _COLUMNS[5:])
    + " WHERE deliveries.version < EXCLUDED.version"
)


def row_of(notification: Notification) -> tuple[Any, ...]:
    n = notification
    return (
        n.id, n.event_id, n.claim_id, n.kind, n.channel, n.status, n.attempts, n.possible_duplicates,
        n.message_id, n.reason, n.created_on, n.last_attempt_at, n.sent_at, n.next_attempt_at, n.version,
    )  # fmt: skip


def upsert(conn: psycopg.Connection[Any], *notifications: Notification) -> None:
    for notification in notifications:
        conn.execute(_UPSERT, row_of(notification))


def enqueue(
    conn: psycopg.Connection[Any], requests: Sequence[tuple[Message, Sequence[Notification]]]
) -> list[bool]:
    """Each message's texts (once per event: True where this was the first time) and the rows of its
    Notifications, sent together in one pipeline."""
    cursors = []
    with conn.pipeline():  # the rows go out together; their results are read once the pipeline ends
        for message, notifications in requests:
            cursors.append(conn.execute(
                "INSERT INTO notifications (event_id, claim_id, kind, immatriculation, subject_fr, body_fr, "
                "subject_ar, body_ar) VALUES (%s, %s, %s, %s, %s, %s, %s, %s) ON CONFLICT (event_id) DO NOTHING",
                (message.event_id, message.claim_id, message.kind, message.immatriculation,
                 message.fr.subject, message.fr.body, message.ar.subject, message.ar.body),
            ))  # fmt: skip
            upsert(conn, *notifications)
    return [cursor.rowcount > 0 for cursor in cursors]


def lock_next_due(conn: psycopg.Connection[Any], channels: Collection[str], now: datetime) -> Due | None:
    """The next message due at ``now`` (the sender's clock, which set the retry times) on one of ``channels``,
    row-locked until the caller's transaction ends; rows another sender holds are skipped, so several
    notifier processes share the queue."""
    row = conn.execute(
        "SELECT d.delivery_id, n.subject_fr, n.body_fr, n.subject_ar, n.body_ar, d.claim_id "
        "FROM deliveries d JOIN notifications n ON n.event_id = d.event_id "
        "WHERE d.status = 'pending' AND d.channel = ANY(%s) AND d.next_attempt_at <= %s "
        "ORDER BY d.next_attempt_at LIMIT 1 FOR UPDATE OF d SKIP LOCKED",
        (list(channels), now),
    ).fetchone()
    if row is None:
        return None
    delivery_id, subject_fr, body_fr, subject_ar, body_ar, claim_id = row
    return Due(delivery_id, Texts(subject_fr, body_fr, subject_ar, body_ar, str(claim_id)))


def mark_waiting(conn: psycopg.Connection[Any], channel: str, reason: str) -> int:
    """Say why pending messages of a channel this process cannot use are waiting (not an event: the
    configuration of a process is not a fact about the message)."""
    return conn.execute(
        "UPDATE deliveries SET reason = %s WHERE channel = %s AND status = 'pending' AND attempts = 0 "
        "AND reason IS DISTINCT FROM %s",
        (reason, channel, reason),
    ).rowcount


class PostgresDeliveryQueue:
    """The ``DeliveryQueue`` port on a connection: its writes and row locks belong to the caller's
    transaction."""

    def __init__(self, conn: psycopg.Connection[Any]) -> None:
        self.conn = conn

    def enqueue(self, requests: Sequence[tuple[Message, Sequence[Notification]]]) -> list[bool]:
        return enqueue(self.conn, requests)

    def lock_next_due(self, channels: Collection[str], now: datetime) -> Due | None:
        return lock_next_due(self.conn, channels, now)

    def record(self, *notifications: Notification) -> None:
        upsert(self.conn, *notifications)


def versions(conn: psycopg.Connection[Any], ids: Collection[uuid.UUID]) -> dict[uuid.UUID, int]:
    """The version each existing row among ``ids`` holds."""
    rows = conn.execute(
        "SELECT delivery_id, version FROM deliveries WHERE delivery_id = ANY(%s)", (list(ids),)
    ).fetchall()
    return {key: version for key, version in rows}


def projected(conn: psycopg.Connection[Any], projection: str) -> int:
    """The store notification id up to which ``projection`` has written the rows (0: none yet)."""
    row = conn.execute(
        "SELECT last_notification_id FROM delivery_projection_positions WHERE projection = %s", (projection,)
    ).fetchone()
    return int(row[0]) if row else 0


def advance_projection(conn: psycopg.Connection[Any], projection: str, notification_id: int) -> None:
    """Store the projection's position; it never goes back (several notifiers run the same projection)."""
    conn.execute(
        "INSERT INTO delivery_projection_positions (projection, last_notification_id) VALUES (%s, %s) "
        "ON CONFLICT (projection) DO UPDATE SET last_notification_id = "
        "GREATEST(delivery_projection_positions.last_notification_id, EXCLUDED.last_notification_id)",
        (projection, notification_id),
    )
