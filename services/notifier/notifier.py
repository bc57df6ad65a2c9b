"""The notifier's consumer: decodes the claim events of a poll and hands them to ``Notify``
(ipe_claims/application/notifying.py), with the contacts and the delivery queue on the consumer's
connection, so the messages' rows commit with its positions.

The Notification aggregates are saved to the event store first, through its own connection: a crash
before the consumer commits redelivers the events, which find them and only write the rows again.
Sending is the sender's job (sender.py).
"""

from __future__ import annotations

from typing import Any

import psycopg
import structlog
from kafka.consumer.fetcher import ConsumerRecord

from ipe_claims.adapters.avro import AvroCodec, AvroDecodeError
from ipe_claims.adapters.contacts import PostgresContacts
from ipe_claims.adapters.delivery_log import PostgresDeliveryQueue
from ipe_claims.adapters.kafka import TrackedConsumer
from ipe_claims.adapters.notification_store import StoredNotifications
from ipe_claims.application.claims import ClaimsApplication
from ipe_claims.application.notifying import Notify
from ipe_claims.application.ports import Renderer
from ipe_claims.settings import CLAIM_EVENTS_TOPIC, Settings

log = structlog.get_logger()
CONSUMER_NAME = "ipe-notifier"


class Notifier:
    def __init__(
        self,
        app: ClaimsApplication,
        codec: AvroCodec,
        renderer: Renderer,
        message_id_domain: str = "ipe.cnss.ma",
    ) -> None:
        self.codec = codec
        self.notify = Notify(StoredNotifications(app), renderer, message_id_domain)

    def consumer(self, settings: Settings, name: str = CONSUMER_NAME) -> TrackedConsumer:
        return TrackedConsumer(
            settings, name, [CLAIM_EVENTS_TOPIC], self.handle_batch, poison=(AvroDecodeError,)
        )

    def handle_batch(self, conn: psycopg.Connection[Any], records: list[ConsumerRecord]) -> None:
        events = [self.codec.decode(record.value) for record in records]  # undecodable: fails before any I/O
        for done in self.notify(events, PostgresContacts(conn), PostgresDeliveryQueue(conn)):
            log.info("notification.requested" if done.new else "notification.duplicate_ignored",
                     claim_id=str(done.claim_id), event_id=str(done.event_id), kind=done.kind,
                     channels=done.channels)  # fmt: skip
