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
import uuid
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

import psycopg
import structlog
from kafka import KafkaProducer
from kafka.consumer.fetcher import ConsumerRecord
from kafka.errors import KafkaError

from ipe_claims.adapters import metrics, parked
from ipe_claims.adapters.accounts import Principal, enabled_account
from ipe_claims.adapters.avro import AvroCodec, AvroDecodeError
from ipe_claims.adapters.kafka import TrackedConsumer, make_producer
from ipe_claims.application import intake
from ipe_claims.application.claims import ClaimsApplication
from ipe_claims.domain.claim import Claim, InsuredRecord
from ipe_claims.domain.dates import local_date
from ipe_claims.settings import DEAD_LETTERS_TOPIC, PORTAL_TOPIC_PREFIX, Settings, portal_of_topic

CONSUMER_NAME = "ipe-ingress"
# Who may publish, by the role of the account whose topic the message came on (docs/security.md).
PUBLISHING_ROLES = ("portal", "employer")
PORTAL_TOPICS = "^" + re.escape(PORTAL_TOPIC_PREFIX) + ".+$"
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


class _SameKeyInPoll(Exception):
    """Two submissions of a poll touch one claim or one insured: handled one at a time, they are ordered."""


class _PollBatch:
    """What ``intake.submit`` takes as its committer: a poll's new claims (and the insured records they
    open), prepared from aggregates loaded for the whole poll and kept for one save at its end."""

    def __init__(self, store: ClaimsApplication) -> None:
        self.store = store
        self.aggregates: list[Claim | InsuredRecord] = []
        self.known: dict[uuid.UUID, Any] = {}
        self._keys: set[object] = set()

    def preload(self, claim_ids: list[uuid.UUID], immatriculations: list[str]) -> None:
        """The poll's claims and insured records, then the last claims of those records: two queries."""
        self.known = self.store.get_many([*claim_ids, *map(InsuredRecord.id_for, immatriculations)])
        last = [
            a.last_claim_id for a in self.known.values() if isinstance(a, InsuredRecord) and a.last_claim_id
        ]
        self.known |= self.store.get_many([claim_id for claim_id in last if claim_id not in self.known])

    def submit(self, claim_id: uuid.UUID, filed_at: datetime, **submitted: Any) -> Claim:
        prepared = self.store.prepare_submission(claim_id, filed_at, self.known, **submitted)
        if isinstance(prepared, Claim):
            return prepared
        keys = {claim_id, submitted["immatriculation"]}
        if not self._keys.isdisjoint(keys):
            raise _SameKeyInPoll
        self._keys |= keys
        self.aggregates.extend(prepared)
        return prepared[0]


@dataclass(frozen=True)
class _Checked:
    """A submission through every check that needs no lookup of the insured."""

    submitter: str
    claim_id: uuid.UUID
    submission: intake.Submission
    loss: date
    received_at: datetime


@dataclass(frozen=True)
class _Valid:
    """A submission that passed every check that needs no claim: who sends it, for what claim, its facts."""

    submitter: str
    claim_id: uuid.UUID
    facts: dict[str, Any]
    received_at: datetime


class Ingress:
    def __init__(self, settings: Settings, store: ClaimsApplication, codec: AvroCodec) -> None:
        self.settings = settings
        self.clock = settings.clock()
        self.store = store
        self.codec = codec
        self._producer: KafkaProducer | None = None

    def handle(self, conn: psycopg.Connection[Any], records: list[ConsumerRecord]) -> None:
        """A poll's submissions (or one, in TrackedConsumer's fallback) in the transaction that then
        stores the positions, in few round trips: the portals' accounts read once, the insured's
        identities with one query, the claims and insured records with two, every new claim saved by one
        ``save`` (one event-store transaction). Two submissions of one insured or one claim id in a poll,
        or a conflict with another writer, raise: the records are redone one at a time, which refuses
        the second one."""
        valid, refused = self._validated(conn, records)
        batch = _PollBatch(self.store)
        batch.preload([v.claim_id for _, v in valid], [v.facts["immatriculation"] for _, v in valid])
        accepted: list[tuple[ConsumerRecord, Claim, bool]] = []
        for record, submission in valid:
            try:
                accepted.append((record, *self._claim(submission, batch)))
            except DeadLetter as why:
                refused.append((record, why))
        self.store.save(*batch.aggregates)
        self._dead_letters(conn, refused)  # after the save: a batch redone record by record sends them once
        for record, claim, new in accepted:
            self._submitted(record, claim, new)

    @staticmethod
    def _submitted(record: ConsumerRecord, claim: Claim, accepted: bool) -> None:
        metrics.SUBMISSIONS.labels("kafka", "accepted" if accepted else "replayed").inc()
        log.info("claim.submitted", claim_id=str(claim.id), channel="kafka", offset=record.offset,
                 partition=record.partition)  # fmt: skip

    def _validated(
        self, conn: psycopg.Connection[Any], records: list[ConsumerRecord]
    ) -> tuple[list[tuple[ConsumerRecord, _Valid]], list[tuple[ConsumerRecord, DeadLetter]]]:
        """The records' submissions checked, and those refused with why; the portals' accounts are read
        once each and every insured's identity with one query."""
        accounts: dict[str, Principal | None] = {}
        checked: list[tuple[ConsumerRecord, _Checked]] = []
        refused: list[tuple[ConsumerRecord, DeadLetter]] = []
        for record in records:
            try:
                checked.append((record, self._checked(conn, record, accounts)))
            except DeadLetter as why:
                refused.append((record, why))
        people = intake.declared_people(conn, [c.submission for _, c in checked])
        valid: list[tuple[ConsumerRecord, _Valid]] = []
        for (record, c), person in zip(checked, people, strict=True):
            try:
                facts = intake.facts_of(c.submission, c.loss, person)
            except intake.Refusal as refusal:
                refused.append((record, DeadLetter(refusal.code, refusal.message_fr)))
                continue
            valid.append((record, _Valid(c.submitter, c.claim_id, facts, c.received_at)))
        return valid, refused

    def _checked(
        self, conn: psycopg.Connection[Any], record: ConsumerRecord, accounts: dict[str, Principal | None]
    ) -> _Checked:
        """The record's submission through every check that needs no lookup of the insured; ``accounts``
        caches the portals' accounts for one transaction."""
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
            raise DeadLetter("unknown_portal", "Le portail n'est pas un compte portail ou employeur actif.")
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
        now = self.clock.now()
        try:
            loss = intake.check(submission, portal.affiliations, local_date(now))
        except intake.Refusal as refusal:
            raise DeadLetter(refusal.code, refusal.message_fr) from None
        claim_id = intake.claim_id_for(portal.username, message["submission_id"])
        return _Checked(portal.username, claim_id, submission, loss, now)

    def _claim(self, valid: _Valid, committer: ClaimsApplication | _PollBatch) -> tuple[Claim, bool]:
        """The claim the submission asks for, and whether it is new (False: a redelivery found it)."""
        try:
            claim = intake.submit(self.store, valid.claim_id, valid.facts, valid.submitter, "kafka",
                                  valid.received_at, committer)  # fmt: skip
        except intake.Refusal as refusal:
            raise DeadLetter(refusal.code, refusal.message_fr) from None
        return claim, claim.filed_at == valid.received_at

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
