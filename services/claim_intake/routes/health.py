"""Health: is the database there, is the broker there, and how far behind is each consumer?

``/healthz`` answers 200 while the API can take claims (``ok`` or ``degraded``) and 503 when it cannot
(the database is down). Degraded means claims are accepted but their decisions and messages will be
late: the broker is unreachable, or a consumer or the relay lags by more than the threshold.

Lag of a consumer = what the broker holds beyond its stored position, per topic. The broker's end
offsets come from a short-lived metadata client, cached a few seconds so a probe every second costs
nothing. (The local Tansu broker under-reports end offsets by up to one batch: its lag reads low.)
Relay lag = claim events in the store that the relay has not published yet.

A parked record (one a consumer can never handle, kept for replay: docs/operations.md) makes the system
degraded, by consumer and partition, until an auditor replays it. So does a stalled partition: records
beyond a service consumer's stored position, and that position unchanged, for ``health_stall_seconds``
(this process watches the positions between probes; a consumer that is down or retrying a fault shows).

The events table is vacuumed by the operator, not by autovacuum (docs/operations.md): once its oldest
unfrozen transaction is half-way to the age where Postgres forces a vacuum that appends would wait for
(``autovacuum_freeze_max_age``), the report says so.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Collection
from typing import Any

import psycopg
from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from kafka import KafkaConsumer, TopicPartition
from kafka.errors import KafkaError
from psycopg.rows import tuple_row

from ipe_claims.adapters.parked import parked_by_partition
from ipe_claims.application.claims import CLAIM_TOPICS
from ipe_claims.settings import Settings

router = APIRouter()
# The service consumers whose lag, parked records or stalls make the system degraded (test or retired
# groups only show).
WATCHED_CONSUMERS = ("ipe-eligibility-projector", "ipe-notifier", "ipe-ingress", "ipe-declarations")
CACHE_SECONDS = 5.0
Offsets = dict[tuple[str, int], int]
_cache: dict[
    str, tuple[float, Offsets | None, str | None]
] = {}  # bootstrap servers -> (when, offsets, error)
_cache_lock = threading.Lock()
# (consumer, topic, partition) -> (its stored position, when this process first saw records waiting there)
_waiting: dict[tuple[str, str, int], tuple[int, float]] = {}


def broker_end_offsets(settings: Settings, topics: set[str]) -> dict[tuple[str, int], int]:
    """High-watermark of every partition of ``topics``; raises KafkaError when the broker is away."""
    consumer = KafkaConsumer(bootstrap_servers=settings.kafka.bootstrap_servers, client_id="ipe-health",
                             request_timeout_ms=3000, bootstrap_timeout_ms=2000,
                             allow_auto_create_topics=False, **settings.kafka_options())  # fmt: skip
    try:
        partitions = [
            TopicPartition(topic, partition)
            for topic in sorted(topics)
            for partition in sorted(consumer.partitions_for_topic(topic) or ())
        ]
        ends = consumer.end_offsets(partitions) if partitions else {}
        return {(tp.topic, tp.partition): int(offset) for tp, offset in ends.items()}
    finally:
        consumer.close()


def _cached_end_offsets(settings: Settings, topics: set[str]) -> tuple[Offsets | None, str | None]:
    key = settings.kafka.bootstrap_servers
    with _cache_lock:
        at, offsets, error = _cache.get(key, (-CACHE_SECONDS, None, None))
        if time.monotonic() - at >= CACHE_SECONDS:
            try:
                offsets, error = broker_end_offsets(settings, topics), None
            except (KafkaError, OSError) as exc:
                offsets, error = None, type(exc).__name__
            _cache[key] = (time.monotonic(), offsets, error)
        return offsets, error


def consumer_lag(
    positions: list[tuple[str, str, int, int]], end_offsets: dict[tuple[str, int], int]
) -> dict[str, dict[str, int]]:
    """consumer -> topic -> messages behind, from (consumer, topic, partition, next_offset) rows.

    A partition a consumer has no position for counts whole (it has read nothing of it yet).
    """
    stored = {(consumer, topic, partition): offset for consumer, topic, partition, offset in positions}
    lag: dict[str, dict[str, int]] = {}
    for consumer, topic in sorted({(c, t) for c, t, _, _ in positions}):
        behind = 0
        for (end_topic, partition), end in end_offsets.items():
            if end_topic == topic:
                behind += max(0, end - stored.get((consumer, topic, partition), 0))
        lag.setdefault(consumer, {})[topic] = behind
    return lag


def stalled_partitions(positions: list[tuple[str, str, int, int]], end_offsets: Offsets, stall_seconds: float,
                       watched: Collection[str] = WATCHED_CONSUMERS, now: float | None = None) -> list[str]:  # fmt: skip
    """Why each partition of a ``watched`` consumer whose records have waited beyond an unchanged position
    for longer than ``stall_seconds`` is stalled (since this process first saw them waiting there)."""
    now = time.monotonic() if now is None else now
    reasons = []
    with _cache_lock:
        for consumer, topic, partition, offset in positions:
            key = (consumer, topic, partition)
            waiting = end_offsets.get((topic, partition), 0) - offset
            if consumer not in watched or waiting <= 0:
                _waiting.pop(key, None)
                continue
            seen_at, since = _waiting.get(key, (None, now))
            if seen_at != offset:
                since = now
            _waiting[key] = (offset, since)
            if now - since > stall_seconds:
                reasons.append(f"{consumer} stalled on {topic}[{partition}] at offset {offset} for "
                               f"{now - since:.0f} s ({waiting} records waiting)")  # fmt: skip
    return reasons


def health_report(conn: psycopg.Connection[Any], settings: Settings, max_lag: int,
                  max_xid_age: int | None = None, stall_seconds: float | None = None) -> dict[str, Any]:  # fmt: skip
    """``max_xid_age``: the events table's transaction age that calls for its vacuum (default: half of the
    server's ``autovacuum_freeze_max_age``); ``stall_seconds``: ``settings.health_stall_seconds``."""
    cursor = conn.cursor(row_factory=tuple_row)
    positions = cursor.execute(
        "SELECT consumer, topic, partition, next_offset FROM consumer_positions"
    ).fetchall()
    relay_behind = int(cursor.execute(
        "SELECT (SELECT coalesce(max(notification_id), 0) FROM ipe_events WHERE topic = ANY(%s)) - "
        "coalesce((SELECT max(last_notification_id) FROM relay_positions), 0)",
        (list(CLAIM_TOPICS),),
    ).fetchone()[0])  # type: ignore[index]  # fmt: skip
    xid_age, forced_at = cursor.execute(
        "SELECT age(relfrozenxid), current_setting('autovacuum_freeze_max_age')::bigint FROM pg_class "
        "WHERE oid = 'ipe_events'::regclass"
    ).fetchone() or (0, 0)
    offsets, broker_error = _cached_end_offsets(settings, {topic for _, topic, _, _ in positions})
    lag = consumer_lag(positions, offsets) if offsets is not None else {}
    reasons = [f"broker unreachable ({broker_error})"] if broker_error else []
    reasons += [
        f"{consumer} lags {behind} on {topic}"
        for consumer, topics in lag.items()
        if consumer in WATCHED_CONSUMERS
        for topic, behind in topics.items()
        if behind > max_lag
    ]
    held = parked_by_partition(conn)
    reasons += [f"{consumer} parked {count} record(s) on {topic}[{partition}]"
                for consumer, topic, partition, count in held if consumer in WATCHED_CONSUMERS]  # fmt: skip
    if offsets is not None:
        stall = settings.health.stall_seconds if stall_seconds is None else stall_seconds
        reasons += stalled_partitions(positions, offsets, stall)
    if relay_behind > max_lag:
        reasons.append(f"relay lags {relay_behind} events")
    if xid_age > (forced_at // 2 if max_xid_age is None else max_xid_age):
        reasons.append(f"events table needs VACUUM (FREEZE): transaction age {xid_age}")
    return {
        "status": "degraded" if reasons else "ok",
        "reasons": reasons,
        "database": "ok",
        "broker": "down" if broker_error else "ok",
        "relay_lag": max(0, relay_behind),
        "events_xid_age": xid_age,
        "consumer_lag": lag,
        "parked": [
            {"consumer": consumer, "topic": topic, "partition": partition, "records": count}
            for consumer, topic, partition, count in held
        ],
    }


@router.get("/healthz")
def healthz(request: Request) -> JSONResponse:
    settings: Settings = request.app.state.settings
    try:
        with request.app.state.pool.connection(timeout=3) as conn:
            report = health_report(conn, settings, settings.health.max_lag)
    except (psycopg.Error, TimeoutError) as exc:
        body = {
            "status": "down",
            "reasons": [f"database unreachable ({type(exc).__name__})"],
            "database": "down",
        }
        return JSONResponse(body, status_code=503, headers={"Retry-After": "5"})
    return JSONResponse(report)
