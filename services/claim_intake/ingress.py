"""The Kafka ingress: claims that portals publish to ``ipe.claim-submissions`` take the HTTP path.

``python -m services.claim_intake.ingress``. Each message is a ClaimSubmission (Avro single-object
encoding). Its ``portal`` names an enabled account: a ``portal`` account may submit for any affiliation,
an ``employer`` account for its own only; any other is refused. A valid submission becomes a claim
whose id derives from (portal, submission_id), the same as an HTTP ``Idempotency-Key``, so a redelivered
or re-published message finds its claim instead of making a second one.

Anything refused goes to ``ipe.dead-letters``: the original bytes, keyed ``topic/partition/offset``,
with the headers dlq-code, dlq-reason, dlq-source-topic, dlq-source-partition, dlq-source-offset (and
dlq-source-key), and to the ``dead_letters`` table. The publish waits for the broker, then the position
is stored with the table row in one transaction: a crash between the two publishes the dead letter
again on redelivery, with the same key (at least once; readers dedupe on the key).
"""

from __future__ import annotations

import threading
from datetime import UTC, datetime
from typing import Any

import psycopg
import structlog
from kafka import KafkaProducer
from kafka.consumer.fetcher import ConsumerRecord
from kafka.errors import KafkaError

from ipe_claims import intake
from ipe_claims.adapters.accounts import enabled_account
from ipe_claims.adapters.avro import AvroCodec, AvroDecodeError
from ipe_claims.adapters.kafka import TrackedConsumer, make_producer
from ipe_claims.application import ClaimsApplication
from ipe_claims.domain.dates import CASABLANCA
from ipe_claims.settings import DEAD_LETTERS_TOPIC, SUBMISSIONS_TOPIC, Settings
from services.claim_intake import metrics

CONSUMER_NAME = "ipe-ingress"
# Who may publish, by the role of the account the message names (docs/security.md).
PUBLISHING_ROLES = ("portal", "employer")
log = structlog.get_logger()


class DeadLetter(Exception):
    def __init__(self, code: str, reason: str) -> None:
        super().__init__(f"{code}: {reason}")
        self.code = code
        self.reason = reason


class Ingress:
    def __init__(self, settings: Settings, store: ClaimsApplication, codec: AvroCodec) -> None:
        self.settings = settings
        self.store = store
        self.codec = codec
        self._producer: KafkaProducer | None = None

    def handle(self, conn: psycopg.Connection[Any], record: ConsumerRecord) -> None:
        """Called by TrackedConsumer in the transaction that then stores the position."""
        try:
            claim_id = self._submit(conn, record)
        except DeadLetter as refused:
            self._dead_letter(conn, record, refused)
            return
        log.info("claim.submitted", claim_id=str(claim_id), channel="kafka", offset=record.offset,
                 partition=record.partition)  # fmt: skip

    def _submit(self, conn: psycopg.Connection[Any], record: ConsumerRecord) -> Any:
        try:
            name, message = self.codec.decode(record.value)
        except AvroDecodeError as exc:
            raise DeadLetter("undecodable", str(exc)) from None
        if name != "ClaimSubmission":
            raise DeadLetter("unexpected_schema", f"a {name} record is not a ClaimSubmission")
        portal = None if "\x00" in message["portal"] else enabled_account(conn, message["portal"])
        if portal is None or portal.role not in PUBLISHING_ROLES:
            raise DeadLetter("unknown_portal", "the portal is not an enabled portal or employer account")
        submission = intake.Submission(
            affiliation_number=message["affiliation_number"],
            immatriculation=message["immatriculation"],
            job_loss_date=message["job_loss_date"].isoformat(),
            motif_code=message["motif_code"],
            attestation=message["attestation"],
        )
        now = datetime.now(UTC)
        scope = None if portal.role == "portal" else portal.affiliations
        try:
            facts = intake.validate(conn, submission, scope, now.astimezone(CASABLANCA).date())
            claim_id = intake.claim_id_for(portal.username, message["submission_id"])
            claim = intake.submit(self.store, claim_id, facts, portal.username, "kafka", now)
        except intake.Refusal as refusal:
            raise DeadLetter(refusal.code, refusal.message_fr) from None
        metrics.SUBMISSIONS.labels("kafka", "accepted" if claim.filed_at == now else "replayed").inc()
        return claim.id

    def _dead_letter(
        self, conn: psycopg.Connection[Any], record: ConsumerRecord, refused: DeadLetter
    ) -> None:
        source = f"{record.topic}/{record.partition}/{record.offset}"
        headers = [
            ("dlq-code", refused.code.encode()),
            ("dlq-reason", refused.reason.encode()),
            ("dlq-source-topic", record.topic.encode()),
            ("dlq-source-partition", str(record.partition).encode()),
            ("dlq-source-offset", str(record.offset).encode()),
            ("dlq-source-key", record.key or b""),
        ]
        try:
            self.producer.send(
                DEAD_LETTERS_TOPIC, key=source.encode(), value=record.value, headers=headers
            ).get(timeout=30)
        except KafkaError:
            self._close_producer()  # e.g. UnknownProducerIdError after a broker restart: start afresh
            raise  # the record is retried: nothing is passed before its dead letter is on the broker
        conn.execute(
            "INSERT INTO dead_letters (consumer, topic, partition, message_offset, reason, message_key, "
            "message_value) VALUES (%s, %s, %s, %s, %s, %s, %s) ON CONFLICT DO NOTHING",
            (CONSUMER_NAME, record.topic, record.partition, record.offset, f"{refused.code}: {refused.reason}",
             record.key, record.value),
        )  # fmt: skip
        metrics.DEAD_LETTERS.labels(refused.code).inc()
        metrics.SUBMISSIONS.labels("kafka", refused.code).inc()
        log.warning("ingress.dead_letter", code=refused.code, topic=record.topic, partition=record.partition,
                    offset=record.offset)  # fmt: skip

    @property
    def producer(self) -> KafkaProducer:
        if self._producer is None:
            self._producer = make_producer(self.settings, client_id=CONSUMER_NAME)
        return self._producer

    def _close_producer(self) -> None:
        if self._producer is not None:
            self._producer.close(timeout=5)
            self._producer = None

    def consumer(self, name: str = CONSUMER_NAME) -> TrackedConsumer:
        return TrackedConsumer(self.settings, name, [SUBMISSIONS_TOPIC], self.handle, poison=())

    def run(self, stop: threading.Event, name: str = CONSUMER_NAME) -> None:
        try:
            self.consumer(name).run(stop)
        finally:
            self._close_producer()


def main() -> None:
    from prometheus_client import start_http_server

    from ipe_claims.bootstrap import bootstrap, run_until_signalled

    wiring = bootstrap("ingress")
    if wiring.settings.ingress_metrics_port:
        start_http_server(wiring.settings.ingress_metrics_port, addr=wiring.settings.http_host)
    run_until_signalled(Ingress(wiring.settings, wiring.app, wiring.codec).run)


if __name__ == "__main__":
    main()
