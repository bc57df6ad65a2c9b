"""Claim events read back from ``ipe.claim-events``, for a replay that checks what Kafka holds.

It assigns itself every partition from the beginning instead of joining a consumer group: nothing is
left behind on the broker, and no group join can stall it. It knows how many distinct events the relay
had published when it started (the relay's position in the store), and reads until it has seen them
all, or stops with an error saying how many the broker no longer holds.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import psycopg
from kafka import KafkaConsumer, TopicPartition

from ipe_claims.adapters.avro import AvroCodec, AvroDecodeError
from ipe_claims.audit.replay import Record, ReplayError, count_claim_events
from ipe_claims.settings import CLAIM_EVENTS_TOPIC, Settings

RELAY_NAME = "claim-events"


def relay_position(conn: psycopg.Connection[Any]) -> int:
    row = conn.execute(
        "SELECT last_notification_id FROM relay_positions WHERE relay = %s", (RELAY_NAME,)
    ).fetchone()
    return int(row[0]) if row else 0


def kafka_records(
    settings: Settings, codec: AvroCodec, expected: int, idle_timeout: float = 10.0
) -> Iterator[tuple[int, Record]]:
    """Yield (0, record) for each distinct event id on the topic until ``expected`` were seen.

    Duplicates (re-publication) are skipped here; the projections would ignore them anyway.
    """
    consumer = KafkaConsumer(
        bootstrap_servers=settings.kafka.bootstrap_servers,
        group_id=None,
        enable_auto_commit=False,
        auto_offset_reset="earliest",
        fetch_max_wait_ms=100,
        max_poll_records=1000,
        **settings.kafka_options(),  # TLS/SASL in production, as every other Kafka client
    )
    try:
        partitions = consumer.partitions_for_topic(CLAIM_EVENTS_TOPIC) or set()
        if not partitions and expected:
            raise ReplayError(f"topic {CLAIM_EVENTS_TOPIC} does not exist on the broker")
        assigned = [TopicPartition(CLAIM_EVENTS_TOPIC, p) for p in sorted(partitions)]
        consumer.assign(assigned)
        consumer.seek_to_beginning(*assigned)
        seen: set[str] = set()
        last_news = time.monotonic()
        while len(seen) < expected:
            batch = consumer.poll(timeout_ms=200)
            for records in batch.values():
                for message in records:
                    try:
                        name, record = codec.decode(message.value)
                    except AvroDecodeError:
                        continue  # the consumers dead-letter it too: it changed no read model
                    event_id = str(record["event_id"])
                    if event_id in seen:
                        continue
                    seen.add(event_id)
                    last_news = time.monotonic()
                    yield 0, (name, record)
            if time.monotonic() - last_news > idle_timeout:
                raise ReplayError(
                    f"the broker holds {len(seen)} of the {expected} events the relay published; "
                    "re-publish from the store (`ipe relay republish`) and replay again"
                )
    finally:
        consumer.close(autocommit=False)


def expected_on_kafka(conn: psycopg.Connection[Any]) -> tuple[int, int]:
    """(relay position, number of claim events up to it): what the topic must hold."""
    position = relay_position(conn)
    return position, count_claim_events(conn, 0, position)
