"""Kafka at the edge: topic creation, the idempotent producer, and a consumer that keeps its position
in Postgres in the same transaction as its effects (so redelivery after a crash is a no-op)."""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Callable
from typing import Any

import psycopg
import structlog
from kafka import ConsumerRebalanceListener, KafkaAdminClient, KafkaConsumer, KafkaProducer, TopicPartition
from kafka.admin import NewTopic
from kafka.consumer.fetcher import ConsumerRecord
from kafka.errors import KafkaError, TopicAlreadyExistsError

from ipe_claims.settings import TOPIC_PARTITIONS, Settings

log = structlog.get_logger()

Handler = Callable[[psycopg.Connection[Any], ConsumerRecord], None]


class PoisonMessage(Exception):
    """A message that can never be handled: it goes to the dead letters with this reason."""


def ensure_topics(bootstrap_servers: str) -> list[str]:
    """Create the topics with their final partition counts; return those created now."""
    admin = KafkaAdminClient(bootstrap_servers=bootstrap_servers, client_id="ipe-admin")
    try:
        existing = set(admin.list_topics())
        missing = [
            NewTopic(name, count, 1) for name, count in TOPIC_PARTITIONS.items() if name not in existing
        ]
        if missing:
            with contextlib.suppress(TopicAlreadyExistsError):
                admin.create_topics(missing)
        return [topic.name for topic in missing]
    finally:
        admin.close()


def make_producer(settings: Settings, **overrides: Any) -> KafkaProducer:
    options: dict[str, Any] = {
        "bootstrap_servers": settings.kafka_bootstrap_servers,
        "acks": "all",
        "enable_idempotence": True,
        "max_in_flight_requests_per_connection": 5,
        "linger_ms": 5,
        "retries": 10,
    }
    options.update(overrides)
    return KafkaProducer(**options)


def headers(**values: str) -> list[tuple[str, bytes]]:
    return [(name.replace("_", "-"), value.encode()) for name, value in values.items()]


def header(record: ConsumerRecord, name: str) -> str | None:
    for key, value in record.headers or []:
        if key == name:
            return bytes(value).decode(errors="replace")
    return None


class TrackedConsumer:
    """A consumer-group member whose positions live in ``consumer_positions``.

    For each record it opens a transaction, calls the handler, stores ``offset + 1`` and commits. A
    record the handler rejects as bad input (one of ``poison``) is dead-lettered with the reason and
    passed; any other failure (database down, a bug) leaves the position alone and retries after a
    pause, so nothing is skipped: a stuck partition shows as lag, never as a lost claim.
    """

    def __init__(
        self,
        settings: Settings,
        name: str,
        topics: list[str],
        handler: Handler,
        poison: tuple[type[Exception], ...] = (PoisonMessage,),
    ) -> None:
        self.settings = settings
        self.poison = poison
        self.name = name
        self.topics = topics
        self.handler = handler
        self.handled = 0

    def _positions(self, conn: psycopg.Connection[Any]) -> dict[TopicPartition, int]:
        rows = conn.execute(
            "SELECT topic, partition, next_offset FROM consumer_positions WHERE consumer = %s",
            (self.name,),
        ).fetchall()
        return {TopicPartition(topic, partition): offset for topic, partition, offset in rows}

    def run(self, stop: threading.Event) -> None:
        while not stop.is_set():
            try:
                self._run(stop)
            except (psycopg.OperationalError, KafkaError) as exc:
                log.warning("consumer.restart", consumer=self.name, error=type(exc).__name__)
                stop.wait(1.0)

    def _run(self, stop: threading.Event) -> None:
        # autocommit: every effect goes through an explicit transaction() block, committed at its end.
        with psycopg.connect(self.settings.database_url, autocommit=True) as conn:
            consumer = KafkaConsumer(
                bootstrap_servers=self.settings.kafka_bootstrap_servers,
                group_id=self.name,
                client_id=self.name,
                enable_auto_commit=False,
                auto_offset_reset="earliest",  # also what a position beyond a restarted broker's log falls to
                fetch_max_wait_ms=100,
                **({"max_poll_records": 200} | self.settings.consumer_timeouts()),
            )
            try:
                self._loop(conn, consumer, stop)
            finally:
                consumer.close(autocommit=False)

    def _loop(self, conn: psycopg.Connection[Any], consumer: KafkaConsumer, stop: threading.Event) -> None:
        consumer_ref = self

        class SeekToStored(ConsumerRebalanceListener):
            def on_partitions_revoked(self, revoked: Any) -> None:
                return None

            def on_partitions_assigned(self, assigned: Any) -> None:
                stored = consumer_ref._positions(conn)
                for tp in assigned:
                    if tp in stored:
                        consumer.seek(tp, stored[tp])
                log.info("consumer.assigned", consumer=consumer_ref.name, partitions=len(assigned))

        consumer.subscribe(self.topics, listener=SeekToStored())
        while not stop.is_set():
            batch = consumer.poll(timeout_ms=200)
            for tp, records in batch.items():
                for record in records:
                    if stop.is_set():
                        return
                    if not self._handle(conn, record):
                        consumer.seek(tp, record.offset)  # database trouble: try this record again
                        time.sleep(0.5)
                        break

    def _handle(self, conn: psycopg.Connection[Any], record: ConsumerRecord) -> bool:
        try:
            with conn.transaction():
                self.handler(conn, record)
                self._advance(conn, record)
        except self.poison as exc:
            self._dead_letter(conn, record, f"{type(exc).__name__}: {exc}")
        except psycopg.OperationalError:
            raise
        except Exception as exc:
            if conn.closed:
                raise
            log.exception(
                "consumer.retry_record",
                consumer=self.name,
                topic=record.topic,
                partition=record.partition,
                offset=record.offset,
                error=type(exc).__name__,
            )
            return False
        self.handled += 1
        return True

    def _advance(self, conn: psycopg.Connection[Any], record: ConsumerRecord) -> None:
        conn.execute(
            "INSERT INTO consumer_positions (consumer, topic, partition, next_offset) VALUES (%s, %s, %s, %s) "
            "ON CONFLICT (consumer, topic, partition) DO UPDATE SET next_offset = EXCLUDED.next_offset",
            (self.name, record.topic, record.partition, record.offset + 1),
        )

    def _dead_letter(self, conn: psycopg.Connection[Any], record: ConsumerRecord, reason: str) -> None:
        log.warning(
            "consumer.dead_letter",
            consumer=self.name,
            topic=record.topic,
            partition=record.partition,
            offset=record.offset,
            reason=reason[:200],
        )
        with conn.transaction():
            conn.execute(
                "INSERT INTO dead_letters (consumer, topic, partition, message_offset, reason, message_key, "
                "message_value) VALUES (%s, %s, %s, %s, %s, %s, %s) ON CONFLICT DO NOTHING",
                (self.name, record.topic, record.partition, record.offset, reason, record.key, record.value),
            )
            self._advance(conn, record)
