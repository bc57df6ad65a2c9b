"""A broker that loses its log: a TrackedConsumer whose stored positions refer to the old log starts
each partition over, even when the new log has grown past those positions (so no OffsetOutOfRange
warns it). A broker of its own, restarted empty on the same port."""

from __future__ import annotations

import threading
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest
from kafka.consumer.fetcher import ConsumerRecord

from ipe_claims.adapters.kafka import TrackedConsumer, ensure_topics, make_producer, topic_id
from ipe_claims.operations.local import LocalBroker, free_port
from ipe_claims.settings import CLAIM_EVENTS_TOPIC, Settings
from tests.conftest import topic_partitions, wait_for

pytestmark = pytest.mark.integration


@pytest.fixture
def broker(tmp_path: Path) -> Iterator[LocalBroker]:
    own = LocalBroker(tmp_path, free_port())
    own.start()
    ensure_topics(own.bootstrap_servers)
    yield own
    own.stop()


def _publish(settings: Settings, values: list[bytes]) -> None:
    producer = make_producer(settings)
    try:
        for value in values:
            producer.send(CLAIM_EVENTS_TOPIC, key=value, value=value)
        producer.flush()
    finally:
        producer.close()


def test_positions_in_a_lost_log_start_the_partition_over(settings: Settings, broker: LocalBroker) -> None:
    own = settings.changed(kafka={"bootstrap_servers": broker.bootstrap_servers})
    seen: list[bytes] = []

    def handler(conn: psycopg.Connection[Any], records: list[ConsumerRecord]) -> None:
        seen.extend(record.value for record in records)

    consumer = TrackedConsumer(own, f"loss-{uuid.uuid4().hex[:8]}", [CLAIM_EVENTS_TOPIC], handler)
    stop = threading.Event()
    thread = threading.Thread(target=consumer.run, args=(stop,), daemon=True)
    thread.start()
    try:
        old = [f"old-{i}".encode() for i in range(60)]
        _publish(own, old)
        wait_for(lambda: set(old) <= set(seen), timeout=60, what="the old log consumed")

        broker.stop()  # memory storage: everything is gone
        broker.start()
        ensure_topics(broker.bootstrap_servers)
        # The embedded broker creates a topic a client asks about with 4 partitions whatever the client
        # says: the member's metadata request may come before ensure_topics (docs/operations.md, "Recover
        # from broker data loss"). Positions of partitions the new log lacks stay behind, unread.
        partitions = topic_partitions(broker.bootstrap_servers, CLAIM_EVENTS_TOPIC)
        new = [f"new-{i}".encode() for i in range(150)]  # longer than the old log in every partition
        _publish(own, new)
        wait_for(lambda: set(new) <= set(seen), timeout=90, what="every message of the new log")
        # Until its metadata's next refresh (METADATA_REFRESH_MS) a member may still hold the lost log's
        # topic id; once it knows the new one, the next records of every partition store it.
        current = topic_id(broker.bootstrap_servers, CLAIM_EVENTS_TOPIC)
        wait_for(lambda: consumer._topic_ids(CLAIM_EVENTS_TOPIC) == current, timeout=30,
                 what="the member to know the new log's topic id")  # fmt: skip
        more = [f"more-{i}".encode() for i in range(150)]
        _publish(own, more)
        wait_for(lambda: set(more) <= set(seen), timeout=90, what="every later message of the new log")
        # The handler sees a record just before its transaction stores the position: wait for the commit.
        with psycopg.connect(settings.database.url, autocommit=True) as conn:
            wait_for(
                lambda: conn.execute(
                    "SELECT count(DISTINCT topic_id) = 1 FROM consumer_positions WHERE consumer = %s "
                    "AND partition < %s",
                    (consumer.name, partitions),
                ).fetchone()[0],
                what="every position to refer to the new log",
            )
    finally:
        stop.set()
        thread.join(timeout=15)
    assert [value for value in seen if value.startswith(b"new-")].count(b"new-0") == 1
