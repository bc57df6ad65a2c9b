"""The outbox relay: publishes the store's claim events, in global order, to ``ipe.claim-events``.

It records the last notification id it published only after the broker acknowledged the batch, so a
crash re-publishes at most one batch (consumers recognise the stable event ids). When the broker has
lost its topics (the local broker does on every restart), the relay recreates them and re-publishes
from the start of the store.
"""

from __future__ import annotations

import threading
import time
from typing import Any

import psycopg
import structlog
from eventsourcing.persistence import PersistenceError
from kafka import KafkaProducer

from ipe_claims.adapters.accounts import portal_names
from ipe_claims.adapters.avro import AvroCodec
from ipe_claims.adapters.claim_messages import RecordDecoder
from ipe_claims.adapters.kafka import ensure_topics, make_producer, topic_id
from ipe_claims.adapters.loops import TRANSIENT, supervised
from ipe_claims.application.claims import ClaimsApplication
from ipe_claims.settings import CLAIM_EVENTS_TOPIC, Settings

log = structlog.get_logger()
RELAY_NAME = "claim-events"
BATCH = 500
TOPIC_CHECK_SECONDS = 5.0
RELAY_LOCK = 0x4E1A7


class Relay:
    def __init__(self, settings: Settings, app: ClaimsApplication, codec: AvroCodec) -> None:
        self.settings = settings
        self.app = app
        self.codec = codec
        self.decoder = RecordDecoder(app, with_event_id=True)
        self._producer: KafkaProducer | None = None
        self._topics_checked_at = 0.0
        self._locked_on: psycopg.Connection[Any] | None = None  # the connection holding RELAY_LOCK

    def position(self, conn: psycopg.Connection[Any]) -> int:
        row = conn.execute(
            "SELECT last_notification_id FROM relay_positions WHERE relay = %s", (RELAY_NAME,)
        ).fetchone()
        return int(row[0]) if row else 0

    def _set_position(self, conn: psycopg.Connection[Any], position: int) -> None:
        conn.execute(
            "INSERT INTO relay_positions (relay, last_notification_id) VALUES (%s, %s) "
            "ON CONFLICT (relay) DO UPDATE SET last_notification_id = EXCLUDED.last_notification_id",
            (RELAY_NAME, position),
        )

    def _check_topics(self, conn: psycopg.Connection[Any]) -> None:
        """Recreate lost topics (the portals' too, on a broker that lost them and lets the relay create
        them); re-publish everything when the topic is not the one we published to.

        The topic id tells, even when someone else recreated the topic first (``ipe up``, a client with
        auto-creation): a new id is a new, empty log.
        """
        servers, security = self.settings.kafka.bootstrap_servers, self.settings.kafka_options()
        created = CLAIM_EVENTS_TOPIC in ensure_topics(servers, portal_names(conn), **security)
        current = topic_id(servers, CLAIM_EVENTS_TOPIC, **security)
        row = conn.execute("SELECT topic_id FROM relay_positions WHERE relay = %s", (RELAY_NAME,)).fetchone()
        published_to = row[0] if row else None
        if created or (published_to and current and published_to != current):
            log.warning("relay.republish", reason="claim-events topic was missing or replaced")
            self._set_position(conn, 0)
        if current and current != published_to:
            conn.execute(
                "INSERT INTO relay_positions (relay, last_notification_id, topic_id) VALUES (%s, 0, %s) "
                "ON CONFLICT (relay) DO UPDATE SET topic_id = EXCLUDED.topic_id",
                (RELAY_NAME, current),
            )
        self._topics_checked_at = time.monotonic()

    def publish_batch(self, conn: psycopg.Connection[Any]) -> int:
        """Publish the next batch; return how many events went out."""
        if time.monotonic() - self._topics_checked_at > TOPIC_CHECK_SECONDS:
            self._check_topics(conn)
        notifications = self.app.claim_notifications(self.position(conn), BATCH)
        if not notifications:
            return 0
        if self._producer is None:
            # A send to a lost topic fails fast, so the relay checks the topics again soon.
            self._producer = make_producer(self.settings, max_block_ms=10_000)
        futures = []
        for notification in notifications:
            message = self.decoder.message(self.codec, notification)
            futures.append(
                self._producer.send(
                    CLAIM_EVENTS_TOPIC, key=message.key, value=message.value, headers=message.headers
                )
            )
        self._producer.flush()
        for future in futures:
            future.get()  # raises if the broker refused any of them
        self._set_position(conn, notifications[-1].id)
        log.info("relay.published", events=len(notifications), last_notification_id=notifications[-1].id)
        return len(notifications)

    def run(self, stop: threading.Event) -> None:
        supervised(self._step, stop, "relay", database_url=self.settings.database.url,
                   transient=(*TRANSIENT, PersistenceError), on_fault=self._forget_session)  # fmt: skip
        self._reset_producer()

    def _step(self, conn: psycopg.Connection[Any]) -> float:
        """Publish the next batch once this connection holds the relay lock: one relay publishes at a
        time, so the global order holds with several replicas."""
        if self._locked_on is not conn:
            if not (conn.execute("SELECT pg_try_advisory_lock(%s)", (RELAY_LOCK,)).fetchone() or (False,))[0]:
                return 1.0
            self._locked_on = conn
        return 0.0 if self.publish_batch(conn) else 0.05

    def _forget_session(self, _: Exception) -> None:
        """After a fault: the lock went with the connection; e.g. UnknownProducerIdError after a broker
        restart needs a fresh producer session; the topics are checked again."""
        self._locked_on = None
        self._reset_producer()
        self._topics_checked_at = 0.0

    def _reset_producer(self) -> None:
        if self._producer is not None:
            self._producer.close(timeout=2)
            self._producer = None
