"""The ``deliveries`` read model: one row per Notification aggregate, written from its current state.

Writers (the notifier on request, the sender after each attempt, the projection on replay) all write
the whole state with its version and never let an older version overwrite a newer one, so they
converge whatever their order. The same table is the senders' queue.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import psycopg
from eventsourcing.utils import get_topic

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


@dataclass(frozen=True)
class Due:
    delivery_id: uuid.UUID
    subject_fr: str
    body_fr: str
    subject_ar: str
    body_ar: str
    claim_id: uuid.UUID


def lock_next_due(conn: psycopg.Connection[Any], channels: list[str], now: datetime) -> Due | None:
    """The next message due at ``now`` (the sender's clock, which set the retry times) on one of ``channels``,
    row-locked until the caller's transaction ends; rows another sender holds are skipped, so several
    notifier processes share the queue."""
    row = conn.execute(
        "SELECT d.delivery_id, n.subject_fr, n.body_fr, n.subject_ar, n.body_ar, d.claim_id "
        "FROM deliveries d JOIN notifications n ON n.event_id = d.event_id "
        "WHERE d.status = 'pending' AND d.channel = ANY(%s) AND d.next_attempt_at <= %s "
        "ORDER BY d.next_attempt_at LIMIT 1 FOR UPDATE OF d SKIP LOCKED",
        (channels, now),
    ).fetchone()
    return Due(*row) if row else None


def mark_waiting(conn: psycopg.Connection[Any], channel: str, reason: str) -> int:
    """Say why pending messages of a channel this process cannot use are waiting (not an event: the
    configuration of a process is not a fact about the message)."""
    return conn.execute(
        "UPDATE deliveries SET reason = %s WHERE channel = %s AND status = 'pending' AND attempts = 0 "
        "AND reason IS DISTINCT FROM %s",
        (reason, channel, reason),
    ).rowcount
