"""The Kafka ingress: claims that portals publish on their topics take the HTTP path.

``python -m services.ingress``. Each portal publishes on ``ipe.claim-submissions.<portal>``,
a topic only its Kafka principal may write (``ipe portals create``): the topic, which the broker
enforced, says who sent a record, never a field the sender wrote. Each message is a ClaimSubmission (Avro
single-object encoding). The topic's account must be an enabled ``portal`` (or ``employer``) account;
the record's ``portal`` field must name that same account, and its affiliation must be one the account
holds; anything else is refused. A valid submission becomes a claim whose id derives from (portal,
submission_id), the same as an HTTP ``Idempotency-Key``, so a redelivered or re-published message finds
its claim instead of making a second one.

Anything refused goes to ``ipe.dead-letters``: the original bytes, keyed ``topic/partition/offset``,
with the headers dlq-code, dlq-reason, dlq-source-topic, dlq-source-partition, dlq-source-offset (and
dlq-source-key), and to the ``dead_letters`` table as ``refused`` (final: the portal corrects and sends
again). The publish waits for the broker, then the position is stored with the table row in one
transaction: a crash between the two publishes the dead letter again on redelivery, with the same key
(at least once; readers dedupe on the key). What the ingress cannot handle for a reason of its own is
parked instead, for replay (``TrackedConsumer``).
"""

from __future__ import annotations

import re
import threading
from collections.abc import Collection
from typing import Any

import psycopg
import structlog
from kafka import KafkaProducer
from kafka.consumer.fetcher import ConsumerRecord
from kafka.errors import KafkaError

from ipe_claims.adapters import metrics, parked
from ipe_claims.adapters.accounts import Principal, enabled_account
from ipe_claims.adapters.avro import AvroCodec, AvroDecodeError
from ipe_claims.adapters.declared_insured import PostgresDeclarations
from ipe_claims.adapters.kafka import TrackedConsumer, make_producer
from ipe_claims.application import intake
from ipe_claims.application.claims import ClaimsApplication
from ipe_claims.application.filing import FileClaim, Filed, Filing
from ipe_claims.application.ports import Submitter
from ipe_claims.domain.claim import Claim
from ipe_claims.settings import DEAD_LETTERS_TOPIC, PORTAL_TOPIC_PREFIX, Settings, portal_of_topic

CONSUMER_NAME = "ipe-ingress"
# Who may publish, by the role of the account whose topic the message came on (docs/security.md).
PUBLISHING_ROLES = ("portal", "employer")
PORTAL_TOPICS = "^" + re.escape(PORTAL_TOPIC_PREFIX) + ".+$"
_UNKNOWN_PORTAL = "Le portail n'est pas un compte portail ou employeur actif."
log = structlog.get_logger()


class DeadLetter(Exception):
    def __init__(self, code: str, reason: str) -> None:
        super().__init__(f"{code}: {reason}")
        self.code = code
        self.reason = reason


def _dead_letter_headers(record: ConsumerRecord, refused: DeadLetter) -> list[tuple[str, bytes]]:
    return [
        ("dlq-code", refused.code.encode()),
        ("dlq-reason", refused.reason.encode()),
        ("dlq-source-topic", record.topic.encode()),
        ("dlq-source-partition", str(record.partition).encode()),
        ("dlq-source-offset", str(record.offset).encode()),
        ("dlq-source-key", record.key or b""),
    ]


class _Portals:
    """The filing service's ``Accounts`` for the ingress: the portals' accounts as ``_checked`` read them in
    this transaction (a topic names its sender; the broker enforced it)."""

    def __init__(self, accounts: dict[str, Principal | None]) -> None:
        self.accounts = accounts

    def submitters(self, callers: Collection[str]) -> dict[str, Submitter | intake.Refusal]:
        found: dict[str, Submitter | intake.Refusal] = {}
        for name in callers:
            portal = self.accounts.get(name)
            found[name] = (Submitter(portal.username, portal.role, portal.affiliations) if portal is not None
                           else intake.Refusal("unknown_portal", _UNKNOWN_PORTAL, _UNKNOWN_PORTAL))  # fmt: skip
        return found


class Ingress:
    def __init__(self, settings: Settings, store: ClaimsApplication, codec: AvroCodec) -> None:
        self.settings = settings
        self.clock = settings.clock()
        self.store = store
        self.codec = codec
        self._producer: KafkaProducer | None = None

    def handle(self, conn: psycopg.Connection[Any], records: list[ConsumerRecord]) -> None:
        """A poll (or one record, in TrackedConsumer's fallback), in the transaction that then stores the
        positions. File the records' submissions in one call of the filing service (the portals' accounts read once
        each, the insured's identities with one query, the claims and insured records with two, every new
        claim saved in one event-store transaction), then dead-letter the refused ones, in the poll's order."""
        accounts: dict[str, Principal | None] = {}
        asks: list[tuple[ConsumerRecord, FileClaim]] = []
        refused: list[tuple[ConsumerRecord, DeadLetter]] = []
        for record in records:
            try:
                asks.append((record, self._checked(conn, record, accounts)))
            except DeadLetter as why:
                refused.append((record, why))
        service = Filing(self.store, PostgresDeclarations(conn), _Portals(accounts), self.clock)
        answers = service.file([ask for _, ask in asks])
        accepted: list[tuple[ConsumerRecord, Filed]] = []
        for (record, _), answer in zip(asks, answers, strict=True):
            if isinstance(answer, intake.Refusal):
                refused.append((record, DeadLetter(answer.code, answer.message_fr)))
            else:
                accepted.append((record, answer))
        order = {id(record): n for n, record in enumerate(records)}
        self._dead_letters(conn, sorted(refused, key=lambda one: order[id(one[0])]))  # after the save
        for record, filed in accepted:
            self._submitted(record, filed.claim, filed.created)

    @staticmethod
    def _submitted(record: ConsumerRecord, claim: Claim, accepted: bool) -> None:
        metrics.SUBMISSIONS.labels("kafka", "accepted" if accepted else "replayed").inc()
        log.info("claim.submitted", claim_id=str(claim.id), channel="kafka", offset=record.offset,
                 partition=record.partition)  # fmt: skip

    def _checked(
        self, conn: psycopg.Connection[Any], record: ConsumerRecord, accounts: dict[str, Principal | None]
    ) -> FileClaim:
        """The record's submission to file, after the checks of the transport (a readable ClaimSubmission,
        from an enabled portal, naming it, for an affiliation it holds); ``accounts`` caches the portals'
        accounts for one transaction."""
        try:
            name, message = self.codec.decode(record.value)
        except AvroDecodeError as exc:
            raise DeadLetter("undecodable", "Message illisible : pas un enregistrement Avro (encodage d'objet unique) "
                             f"d'un schéma connu ; détail technique : {exc}") from None  # fmt: skip
        if name != "ClaimSubmission":
            raise DeadLetter(
                "unexpected_schema", f"Un enregistrement {name} n'est pas une demande (ClaimSubmission)."
            )
        sender = portal_of_topic(record.topic)
        if sender is not None and sender not in accounts:
            accounts[sender] = enabled_account(conn, sender)
        portal = accounts.get(sender) if sender is not None else None
        if portal is None or portal.role not in PUBLISHING_ROLES:
            raise DeadLetter("unknown_portal", _UNKNOWN_PORTAL)
        if message["portal"] != portal.username:
            raise DeadLetter("portal_mismatch", f"L'enregistrement nomme un autre portail que {portal.username}, "
                             "sur le sujet duquel il a été publié.")  # fmt: skip
        if message["affiliation_number"] not in portal.affiliations:
            raise DeadLetter("affiliation_not_held",
                             f"{portal.username} ne détient pas l'affiliation que nomme l'enregistrement.")  # fmt: skip
        submission = intake.Submission(
            affiliation_number=message["affiliation_number"],
            immatriculation=message["immatriculation"],
            job_loss_date=message["job_loss_date"].isoformat(),
            motif_code=message["motif_code"],
            attestation=message["attestation"],
        )
        claim_id = intake.claim_id_for(portal.username, message["submission_id"])
        return FileClaim(portal.username, claim_id, submission, "kafka")

    def _dead_letters(
        self, conn: psycopg.Connection[Any], refused: list[tuple[ConsumerRecord, DeadLetter]]
    ) -> None:
        """Publish the refused records to the dead-letter topic, wait for the broker, then write their
        rows (in the caller's transaction, with the positions)."""
        if not refused:
            return
        try:
            sent = [self.producer.send(DEAD_LETTERS_TOPIC, key=f"{record.topic}/{record.partition}/{record.offset}"
                                       .encode(), value=record.value, headers=_dead_letter_headers(record, why))
                    for record, why in refused]  # fmt: skip
            for future in sent:
                future.get(timeout=30)
        except KafkaError:
            self._close_producer()  # e.g. UnknownProducerIdError after a broker restart: start afresh
            raise  # the records are retried: nothing is passed before its dead letter is on the broker
        parked.put(conn, CONSUMER_NAME, [(record, f"{why.code}: {why.reason}") for record, why in refused],
                   parked.REFUSED)  # fmt: skip
        for record, why in refused:
            metrics.DEAD_LETTERS.labels(why.code).inc()
            metrics.SUBMISSIONS.labels("kafka", why.code).inc()
            log.warning("ingress.dead_letter", code=why.code, topic=record.topic, partition=record.partition,
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
        return TrackedConsumer(self.settings, name, [], self.handle, poison=(), pattern=PORTAL_TOPICS)

    def run(self, stop: threading.Event, name: str = CONSUMER_NAME) -> None:
        try:
            self.consumer(name).run(stop)
        finally:
            self._close_producer()
