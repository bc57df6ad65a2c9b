"""A transient fault is retried, never parked: a consumer whose database refuses connections for a while,
or whose handler waits on a lock past its timeout more times than ``poison_attempts``, handles every
record once when the fault ends, parks nothing, and its partition shows as stalled meanwhile."""

from __future__ import annotations

import contextlib
import socket
import threading
from typing import Any

import psycopg
import pytest
from kafka import KafkaAdminClient, KafkaProducer
from kafka.admin import NewTopic
from kafka.consumer.fetcher import ConsumerRecord

from ipe_claims.adapters.kafka import TrackedConsumer
from ipe_claims.operations.local import free_port
from ipe_claims.settings import Settings
from services.claim_intake.routes.health import broker_end_offsets, stalled_partitions
from tests.conftest import random_digits, wait_for

pytestmark = pytest.mark.integration


class Gate:
    """A TCP forwarder to Postgres that the test opens and shuts: shut, it refuses connections and drops
    the ones it carried, as a database host that went away does."""

    def __init__(self, target_port: int) -> None:
        self.port, self.target = free_port(), target_port
        self.server: socket.socket | None = None
        self.carried: list[socket.socket] = []

    def open(self) -> None:
        self.server = socket.create_server(("127.0.0.1", self.port))
        threading.Thread(target=self._accept, args=(self.server,), daemon=True).start()

    def shut(self) -> None:
        assert self.server is not None
        with contextlib.suppress(
            OSError
        ):  # wakes the accept() blocked on it: close() alone would not, on Linux
            self.server.shutdown(socket.SHUT_RDWR)
        self.server.close()
        for sock in self.carried:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
            sock.close()
        self.carried.clear()

    def _accept(self, server: socket.socket) -> None:
        with contextlib.suppress(OSError):
            while True:
                client, _ = server.accept()
                upstream = socket.create_connection(("127.0.0.1", self.target))
                self.carried += [client, upstream]
                for a, b in ((client, upstream), (upstream, client)):
                    threading.Thread(target=self._pump, args=(a, b), daemon=True).start()

    @staticmethod
    def _pump(source: socket.socket, sink: socket.socket) -> None:
        with contextlib.suppress(OSError):
            while data := source.recv(65536):
                sink.sendall(data)
        with contextlib.suppress(OSError):
            sink.shutdown(socket.SHUT_RDWR)


def new_topic(settings: Settings) -> str:
    topic = f"test-transient-{random_digits(9)}"
    admin = KafkaAdminClient(bootstrap_servers=settings.kafka.bootstrap_servers)
    admin.create_topics([NewTopic(topic, 1, 1)])
    admin.close()
    return topic


def publish(settings: Settings, topic: str, *values: str) -> None:
    producer = KafkaProducer(bootstrap_servers=settings.kafka.bootstrap_servers, acks="all")
    for value in values:
        producer.send(topic, value.encode(), partition=0)
    producer.flush()
    producer.close()


def handled(conn: psycopg.Connection[Any], table: str) -> list[str]:
    return [value for (value,) in conn.execute(f"SELECT value FROM {table} ORDER BY value")]


def parked(conn: psycopg.Connection[Any], name: str) -> int:
    return int(conn.execute("SELECT count(*) FROM dead_letters WHERE consumer = %s", (name,)).fetchone()[0])


def test_a_database_that_refuses_connections_for_a_while_is_waited_for(
    settings: Settings, conn: psycopg.Connection[Any]
) -> None:
    topic, table, name = new_topic(settings), f"transient_{random_digits(9)}", f"transient-{random_digits(9)}"
    conn.execute(f"CREATE TABLE {table} (value text PRIMARY KEY)")  # a duplicate would raise
    gate = Gate(int(settings.database.url.rsplit(":", 1)[1].split("/")[0]))
    gated = settings.changed(
        database={
            "url": settings.database.url.replace(
                settings.database.url.rsplit(":", 1)[1].split("/")[0], str(gate.port)
            )
        },
    )

    def handle(c: psycopg.Connection[Any], records: list[ConsumerRecord]) -> None:
        for record in records:
            c.execute(f"INSERT INTO {table} VALUES (%s)", (record.value.decode(),))

    consumer = TrackedConsumer(gated, name, [topic], handle)
    stop = threading.Event()
    thread = threading.Thread(target=consumer.run, args=(stop,), daemon=True)
    gate.open()
    thread.start()
    try:
        publish(settings, topic, "a")
        wait_for(lambda: handled(conn, table) == ["a"], timeout=60, what="the first record")
        gate.shut()
        publish(settings, topic, "b", "c", "d")
        positions = [(name, topic, 0, 1)]

        def stalled() -> list[str]:
            ends = broker_end_offsets(settings, {topic})
            return stalled_partitions(positions, ends, stall_seconds=1.0, watched=(name,))

        reasons = wait_for(stalled, timeout=30, what="the partition reported stalled")
        assert reasons[0].startswith(f"{name} stalled on {topic}[0] at offset 1")
        assert handled(conn, table) == ["a"] and thread.is_alive()
        gate.open()
        wait_for(lambda: handled(conn, table) == ["a", "b", "c", "d"], timeout=90, what="every record, once")
    finally:
        stop.set()
        thread.join(timeout=20)
        gate.shut()
    assert parked(conn, name) == 0


def test_a_lock_timeout_is_retried_past_the_poison_threshold_without_parking(
    settings: Settings, conn: psycopg.Connection[Any]
) -> None:
    topic, table, name = new_topic(settings), f"locked_{random_digits(9)}", f"locked-{random_digits(9)}"
    conn.execute(f"CREATE TABLE {table} (id int PRIMARY KEY, n int NOT NULL)")
    conn.execute(f"INSERT INTO {table} VALUES (1, 0)")
    tries = []

    def handle(c: psycopg.Connection[Any], records: list[ConsumerRecord]) -> None:
        tries.extend(record.offset for record in records)
        c.execute("SET LOCAL lock_timeout = '100ms'")
        for _ in records:  # LockNotAvailable while the test holds the row
            c.execute(f"UPDATE {table} SET n = n + 1 WHERE id = 1")

    consumer = TrackedConsumer(settings, name, [topic], handle)
    stop = threading.Event()
    thread = threading.Thread(target=consumer.run, args=(stop,), daemon=True)
    with psycopg.connect(settings.database.url) as holder:
        holder.execute(f"SELECT * FROM {table} FOR UPDATE")
        thread.start()
        publish(settings, topic, "x")
        wait_for(
            lambda: len(tries) > settings.kafka.poison_attempts,
            timeout=60,
            what="more tries than the threshold",
        )
        holder.rollback()
    try:
        wait_for(
            lambda: conn.execute(f"SELECT n FROM {table}").fetchone()[0] == 1, timeout=60, what="the update"
        )
    finally:
        stop.set()
        thread.join(timeout=20)
    assert parked(conn, name) == 0 and consumer.parked == 0
