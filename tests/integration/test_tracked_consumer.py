"""TrackedConsumer against the harness's broker and Postgres: a clean poll goes through the handler in
one transaction; a poll holding a poison record is rolled back and its records go through the same
handler one at a time, so every good record takes effect exactly once and the poison one is parked with
its reason."""

from __future__ import annotations

from typing import Any

import psycopg
import pytest
from kafka import KafkaAdminClient, KafkaProducer
from kafka.admin import NewTopic
from kafka.consumer.fetcher import ConsumerRecord

from ipe_claims.adapters.kafka import PoisonMessage, TrackedConsumer
from ipe_claims.settings import Settings
from tests.conftest import random_digits, running, test_broker, wait_for

pytestmark = pytest.mark.integration


def position(conn: psycopg.Connection[Any], name: str) -> int:
    row = conn.execute("SELECT coalesce(sum(next_offset), 0) FROM consumer_positions WHERE consumer = %s",
                       (name,)).fetchone()  # fmt: skip
    return int(row[0]) if row else 0


def new_topic(settings: Settings, prefix: str, partitions: int = 1) -> str:
    """A topic of its own for a test: ``prefix`` and random digits."""
    topic = f"{prefix}_{random_digits(9)}"
    admin = KafkaAdminClient(bootstrap_servers=settings.kafka.bootstrap_servers)
    admin.create_topics([NewTopic(topic, partitions, 1)])
    admin.close()
    return topic


def test_clean_polls_are_batches_and_a_poison_poll_goes_record_by_record(
    settings: Settings, conn: psycopg.Connection[Any]
) -> None:
    topic = new_topic(settings, "test-batch")
    table, name = (f"{prefix}_{random_digits(9)}" for prefix in ("batch_effects", "batch"))
    conn.execute(f"CREATE TABLE {table} (value text PRIMARY KEY)")

    calls: list[int] = []

    def handle(c: psycopg.Connection[Any], records: list[ConsumerRecord]) -> None:
        calls.append(len(records))
        for record in records:
            if record.value == b"poison":
                raise PoisonMessage("a poisoned line")
            c.execute(f"INSERT INTO {table} VALUES (%s)", (record.value.decode(),))  # a duplicate would raise

    producer = KafkaProducer(bootstrap_servers=settings.kafka.bootstrap_servers, acks="all")
    values = [f"v{n}" for n in range(10)] + ["poison"] + [f"w{n}" for n in range(10)]
    for value in values:
        producer.send(topic, value.encode(), partition=0)
    producer.flush()
    consumer = TrackedConsumer(settings, name, [topic], handle)
    with running(consumer.run):
        wait_for(lambda: position(conn, name) >= len(values), timeout=60, what="the first records")
        batches = consumer.batches
        for n in range(5):
            producer.send(topic, f"x{n}".encode(), partition=0)
        producer.flush()
        wait_for(lambda: position(conn, name) >= len(values) + 5, timeout=60, what="the later records")
        producer.close()
    effects = {value for (value,) in conn.execute(f"SELECT value FROM {table}")}
    assert effects == {v for v in values if v != "poison"} | {f"x{n}" for n in range(5)}
    (reason,) = conn.execute(
        "SELECT reason FROM dead_letters WHERE consumer = %s AND topic = %s AND message_offset = 10",
        (name, topic),
    ).fetchone() or (None,)
    assert reason == "PoisonMessage: a poisoned line"
    assert consumer.batches > batches  # the clean poll went in one transaction
    assert consumer.handled == len(values) + 5  # every record once, the poison one included
    assert consumer.parked == 1
    assert 1 in calls and max(calls) > 1  # batches of one in the fallback, whole polls otherwise


def test_a_poll_over_several_partitions_stores_each_partitions_position(
    settings: Settings, conn: psycopg.Connection[Any]
) -> None:
    """The batch path advances every polled partition in one statement: each to one past its own last
    record, none to another's."""
    topic, name = new_topic(settings, "test-batch-parts", 3), f"batch_parts_{random_digits(9)}"
    seen: list[tuple[int, int]] = []
    consumer = TrackedConsumer(
        settings, name, [topic], lambda _c, records: seen.extend((r.partition, r.offset) for r in records)
    )
    producer = KafkaProducer(bootstrap_servers=settings.kafka.bootstrap_servers, acks="all")
    counts = {0: 4, 1: 7, 2: 2}
    for partition, count in counts.items():
        for n in range(count):
            producer.send(topic, f"p{partition}-{n}".encode(), partition=partition)
    producer.flush()
    producer.close()
    with running(consumer.run):
        wait_for(lambda: position(conn, name) >= sum(counts.values()), timeout=60, what="every record")
    stored = dict(conn.execute("SELECT partition, next_offset FROM consumer_positions WHERE consumer = %s",
                               (name,)).fetchall())  # fmt: skip
    assert stored == counts
    assert consumer.batches >= 1
    assert sorted(seen) == sorted((p, n) for p, count in counts.items() for n in range(count))


class _DeafFirstClient(TrackedConsumer):
    """A member whose first Kafka client joins its group but never fetches (as kafka-python 3 was seen to
    do after losing its group on a 3-node cluster): its later clients are sound. ``lost``: the
    first client also believes it holds no partition."""

    clients = 0
    lost = False

    def _consumer(self, **options: Any) -> Any:
        client = super()._consumer(**options)
        self.clients += 1
        if self.clients == 1:
            client._fetcher.send_fetches = list  # joins, heartbeats, never fetches: polls bring nothing
            if self.lost:
                client.assignment = set
        return client


@pytest.mark.parametrize("lost", [False, True], ids=["holding-partitions", "holding-none"])
def test_a_member_that_gets_nothing_while_records_wait_starts_over(
    settings: Settings, conn: psycopg.Connection[Any], lost: bool
) -> None:
    """Holding partitions, one quiet spell with records waiting is enough; holding none, the member waits
    for a second look at positions that did not move (another member might have been handling them)."""
    topic, name = new_topic(settings, "test-stall", 2), f"stall_{random_digits(9)}"
    seen: list[bytes] = []
    consumer = _DeafFirstClient(
        settings, name, [topic], lambda _c, records: seen.extend(r.value for r in records)
    )
    consumer.stall_seconds = 1.0
    consumer.lost = lost
    producer = KafkaProducer(bootstrap_servers=settings.kafka.bootstrap_servers, acks="all")
    for n in range(6):
        producer.send(topic, f"r{n}".encode(), partition=n % 2)
    producer.flush()
    producer.close()
    with running(consumer.run):
        wait_for(lambda: position(conn, name) >= 6, timeout=60, what="the records, after a start over")
    assert consumer.stalls == 1 and consumer.clients == 2
    assert sorted(seen) == [f"r{n}".encode() for n in range(6)]  # each once


def _quiet_member(
    settings: Settings, conn: psycopg.Connection[Any], topic: str, name: str, count: int
) -> int:
    """Run a member on ``topic`` until it has stored the position past ``count`` records, then through
    several quiet spells of 0.5 s, each looked at; the times it started over."""
    consumer = TrackedConsumer(settings, name, [topic], lambda _c, _records: None)
    consumer.stall_seconds = 0.5
    with running(consumer.run) as stop:
        wait_for(lambda: position(conn, name) >= count, timeout=60, what="the records")
        stop.wait(3)
    return consumer.stalls


def test_a_quiet_member_with_nothing_waiting_stays(settings: Settings, conn: psycopg.Connection[Any]) -> None:
    topic, name = new_topic(settings, "test-quiet"), f"quiet_{random_digits(9)}"
    producer = KafkaProducer(bootstrap_servers=settings.kafka.bootstrap_servers, acks="all")
    producer.send(topic, b"only", partition=0)
    producer.flush()
    producer.close()
    assert _quiet_member(settings, conn, topic, name, 1) == 0


@pytest.mark.skipif(
    test_broker()[0] != "apache", reason="transactions: Apache Kafka's (the embedded broker has none)"
)
def test_a_transaction_marker_at_the_end_is_no_stall(
    settings: Settings, conn: psycopg.Connection[Any]
) -> None:
    """A portal's transactional producer leaves a commit marker after its records: the stored position
    stays one short of the log's end for ever, and the member, whose client stepped over the marker, is
    not stalled."""
    topic, name = new_topic(settings, "test-txn"), f"txn_{random_digits(9)}"
    producer = KafkaProducer(bootstrap_servers=settings.kafka.bootstrap_servers, transactional_id=name)
    producer.init_transactions()
    producer.begin_transaction()
    for n in range(3):
        producer.send(topic, f"t{n}".encode(), partition=0)
    producer.commit_transaction()
    producer.close()
    assert _quiet_member(settings, conn, topic, name, 3) == 0
    assert position(conn, name) == 3  # one short of the end: the marker is offset 3
