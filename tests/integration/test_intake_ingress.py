"""The Kafka ingress against the harness's broker and Postgres: valid submissions become claims exactly
once, whatever is redelivered; every refused message is on ipe.dead-letters with its code. The sender is
the account whose topic a record came on (the harness's broker enforces nothing: see
test_kafka_identities.py for the broker's side)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import uuid
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import httpx
import psycopg
import pytest
from kafka import KafkaConsumer, KafkaProducer, TopicPartition

from ipe_claims.adapters import kafka as kafka_adapter
from ipe_claims.adapters.accounts import create_account
from ipe_claims.adapters.avro import AvroCodec
from ipe_claims.adapters.kafka_identities import admin_client, create_portal_topic
from ipe_claims.application.claims import ClaimsApplication
from ipe_claims.domain.claim import NAMESPACE, InsuredRecord
from ipe_claims.operations.local import free_port
from ipe_claims.settings import DEAD_LETTERS_TOPIC, Settings, portal_topic
from services.ingress.ingress import Ingress
from tests.conftest import TODAY, Insured, declare, random_digits, wait_for

pytestmark = pytest.mark.integration
# The ingress's own refusals, as dlq-reason words them (the others carry the intake's French message).
FRENCH_REASONS = {"undecodable": "Message illisible", "unknown_portal": "Le portail n'est pas",
                  "not_found": "Introuvable", "attestation_required": "Vous devez attester"}  # fmt: skip


@pytest.fixture(scope="module")
def codec(settings: Settings) -> AvroCodec:
    return AvroCodec(settings.schemas_dir)


def submission(codec: AvroCodec, portal: str, insured: Insured, submission_id: str, **changes: Any) -> bytes:
    record = {
        "submission_id": submission_id,
        "portal": portal,
        "affiliation_number": insured.affiliation_number,
        "immatriculation": insured.immatriculation,
        "job_loss_date": TODAY - timedelta(days=3),
        "motif_code": "licenciement_economique",
        "attestation": True,
    } | changes
    return codec.encode("ClaimSubmission", record)


def topics_for(settings: Settings, *accounts: str) -> None:
    """Each account's topic, as `ipe portals create` makes it."""
    admin = admin_client(settings.kafka.bootstrap_servers)
    try:
        for account in accounts:
            create_portal_topic(admin, account)
    finally:
        admin.close()


def run_ingress(settings: Settings, claims_app: ClaimsApplication, codec: AvroCodec, group: str,
                until: dict[tuple[str, int], int], conn: psycopg.Connection[Any]) -> None:  # fmt: skip
    """Run an ingress member of consumer group ``group`` until it has passed ``until`` ((topic, partition) →
    offset)."""
    stop = threading.Event()
    thread = threading.Thread(
        target=Ingress(settings, claims_app, codec).run, args=(stop, group), daemon=True
    )
    thread.start()
    try:
        for (topic, partition), offset in until.items():
            wait_for(
                lambda t=topic, p=partition, o=offset: conn.execute(
                    "SELECT 1 FROM consumer_positions WHERE consumer = %s AND topic = %s AND partition = %s "
                    "AND next_offset > %s",
                    (group, t, p, o),
                ).fetchone(),
                timeout=60,
                what=f"ingress {group} past offset {offset} of {topic}/{partition}",
            )
    finally:
        stop.set()
        thread.join(timeout=20)


def dead_letters(
    settings: Settings, sources: set[tuple[str, int, int]]
) -> dict[tuple[str, int, int], list[Any]]:
    """The dead letters of these (topic, partition, offset) sources (a list: at least once may repeat one)."""
    consumer = KafkaConsumer(bootstrap_servers=settings.kafka.bootstrap_servers, enable_auto_commit=False,
                             consumer_timeout_ms=500)  # fmt: skip
    partitions = [TopicPartition(DEAD_LETTERS_TOPIC, p) for p in range(3)]
    consumer.assign(partitions)
    consumer.seek_to_beginning(*partitions)
    found: dict[tuple[str, int, int], list[Any]] = {}

    def probe() -> bool:
        for records in consumer.poll(timeout_ms=500).values():
            for record in records:
                head = {k: bytes(v).decode() for k, v in record.headers}
                source = (
                    head["dlq-source-topic"],
                    int(head["dlq-source-partition"]),
                    int(head["dlq-source-offset"]),
                )
                if source in sources:
                    found.setdefault(source, []).append(record)
        return set(found) == sources

    try:
        wait_for(probe, timeout=30, what="the dead letters")
    finally:
        consumer.close()
    return found


@pytest.fixture
def producer(settings: Settings) -> Iterator[KafkaProducer]:
    producer = KafkaProducer(bootstrap_servers=settings.kafka.bootstrap_servers, acks="all")
    yield producer
    producer.close()


@pytest.mark.calendar
def test_valid_duplicate_and_garbage_submissions(
    settings: Settings, claims_app: ClaimsApplication, codec: AvroCodec, conn: psycopg.Connection[Any],
    producer: KafkaProducer,
) -> None:  # fmt: skip
    portal, employer, analyst, nobody = (f"{role}-{random_digits(9)}" for role in ("portal", "employer", "analyst",
                                                                                  "nobody"))  # fmt: skip
    own, by_portal, foreign, lonely = (declare(conn, months=40) for _ in range(4))
    create_account(conn, portal, "portal-password", "portal", [by_portal.affiliation_number,
                                                               foreign.affiliation_number])  # fmt: skip
    create_account(conn, employer, "employer-password", "employer", [own.affiliation_number])
    create_account(conn, analyst, "analyst-password", "analyst", [])
    topics_for(settings, portal, employer, analyst, nobody)
    tomorrow = TODAY + timedelta(days=1)
    first = submission(codec, portal, by_portal, "s-1")
    messages: list[tuple[str, bytes | None, str | None]] = [  # (topic's account, value, dead-letter code or None)
        (portal, first, None),
        (portal, first, None),  # redelivered by the portal: the same claim
        (employer, submission(codec, employer, own, "e-1"), None),
        (employer, submission(codec, employer, foreign, "e-2"), "affiliation_not_held"),
        (portal, b"certainly not avro", "undecodable"),
        (portal, None, "undecodable"),
        (portal, first[:-3], "undecodable"),  # truncated
        (nobody, submission(codec, nobody, foreign, "x-1"), "unknown_portal"),  # a topic no account owns
        (analyst, submission(codec, analyst, foreign, "x-2"), "unknown_portal"),
        (portal, submission(codec, "nul\x00portal", foreign, "x-3"), "portal_mismatch"),
        (portal, submission(codec, employer, own, "x-4"), "portal_mismatch"),  # the field names another
        (portal, submission(codec, portal, own, "x-5"), "affiliation_not_held"),
        (portal, submission(codec, portal, foreign, "s-2", attestation=False), "attestation_required"),
        (portal, submission(codec, portal, foreign, "s-3", motif_code="vacances"), "unknown_motif"),
        (portal, submission(codec, portal, foreign, "s-4", job_loss_date=tomorrow), "job_loss_date_in_future"),
        (portal, submission(codec, portal, by_portal, "s-5"), "open_claim_exists"),
        (portal, submission(codec, portal, by_portal, "s-1", motif_code="fin_cdd"), "idempotency_key_reused"),
        (portal, submission(codec, portal, lonely, "s-6", affiliation_number=foreign.affiliation_number),
         "insured_not_declared"),
        (portal, submission(codec, portal, foreign, "s-7", immatriculation="12\x0034"), "invalid_type"),
    ]  # fmt: skip
    key = f"test-{uuid.uuid4()}".encode()  # one partition per topic, so the order above holds
    sent = [producer.send(portal_topic(account), key=key, value=value).get(timeout=30)
            for account, value, _ in messages]  # fmt: skip
    sources = [(meta.topic, meta.partition, meta.offset) for meta in sent]
    last = {(topic, partition): offset for topic, partition, offset in sources}
    group = f"ipe-ingress-test-{random_digits(8)}"
    run_ingress(settings, claims_app, codec, group, last, conn)

    portal_claim = uuid.uuid5(NAMESPACE, f"{portal}:s-1")
    employer_claim = uuid.uuid5(NAMESPACE, f"{employer}:e-1")
    for insured, claim_id, by in ((by_portal, portal_claim, portal), (own, employer_claim, employer)):
        record = claims_app.repository.get(InsuredRecord.id_for(insured.immatriculation))
        assert record.claim_ids == [claim_id]
        claim = claims_app.get_claim(claim_id)
        assert (claim.channel, claim.submitted_by, claim.motif_code) == (
            "kafka",
            by,
            "licenciement_economique",
        )
    for insured in (foreign, lonely):
        assert InsuredRecord.id_for(insured.immatriculation) not in claims_app.repository

    refused = {source: code for source, (_, _, code) in zip(sources, messages, strict=True) if code}
    letters = dead_letters(settings, set(refused))
    for source, code in refused.items():
        (letter,) = letters[source]
        head = {k: bytes(v).decode() for k, v in letter.headers}
        assert head["dlq-code"] == code, head
        assert head["dlq-reason"].startswith(FRENCH_REASONS.get(code, "")), head  # in French (docs/api.md)
        assert letter.key == "/".join(map(str, source)).encode()
        assert letter.value == messages[sources.index(source)][1]  # the original bytes
    stored = conn.execute(
        "SELECT topic, partition, message_offset, reason FROM dead_letters WHERE consumer = 'ipe-ingress' "
        "AND topic = ANY(%s)",
        (list({topic for topic, _, _ in refused}),),
    ).fetchall()
    assert {(t, p, o): reason.split(":")[0] for t, p, o, reason in stored} == refused

    # Everything redelivered (a new group starts from the beginning): no claim twice, no claim lost.
    run_ingress(settings, claims_app, codec, f"{group}-again", last, conn)
    assert claims_app.repository.get(InsuredRecord.id_for(by_portal.immatriculation)).claim_ids == [
        portal_claim
    ]
    assert claims_app.repository.get(InsuredRecord.id_for(own.immatriculation)).claim_ids == [employer_claim]
    again = dead_letters(settings, set(refused))
    assert all(len(again[source]) == 2 for source in refused)  # at least once, with the same key
    assert all(len({r.key for r in again[source]}) == 1 for source in refused)


def test_the_ingress_process_submits_and_stops_on_sigterm(
    settings: Settings, claims_app: ClaimsApplication, codec: AvroCodec, conn: psycopg.Connection[Any],
    producer: KafkaProducer,
) -> None:  # fmt: skip
    """``python -m services.ingress`` as `ipe up` runs it, with its metrics port."""
    portal = f"portal-{random_digits(9)}"
    insured = declare(conn, months=40)
    create_account(conn, portal, "portal-password", "portal", [insured.affiliation_number])
    topics_for(settings, portal)
    metrics_port = free_port()
    env = {**os.environ, "DATABASE_URL": settings.database.url, "IPE_KAFKA_FAST_GROUPS": "1",
           "KAFKA_BOOTSTRAP_SERVERS": settings.kafka.bootstrap_servers,
           "IPE_INGRESS_METRICS_PORT": str(metrics_port)}  # fmt: skip
    process = subprocess.Popen([sys.executable, "-m", "services.ingress"], env=env,
                               stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)  # fmt: skip
    try:
        topic = portal_topic(portal)
        producer.send(topic, key=b"p-1", value=submission(codec, portal, insured, "p-1")).get(30)
        producer.send(topic, key=b"p-2", value=b"\xc3\x01garbage").get(30)
        claim_id = uuid.uuid5(NAMESPACE, f"{portal}:p-1")
        wait_for(lambda: claim_id in claims_app.repository, timeout=60, what="the claim from the process")

        def scraped() -> str | None:
            try:
                text = httpx.get(f"http://127.0.0.1:{metrics_port}/metrics", timeout=2).text
            except httpx.HTTPError:
                return None
            return text if 'ipe_dead_letters_total{code="undecodable"}' in text else None

        text = wait_for(scraped, timeout=60, what="the ingress metrics")
        assert 'ipe_claim_submissions_total{channel="kafka",outcome="accepted"}' in text
    finally:
        process.send_signal(signal.SIGTERM)
        _, stderr = process.communicate(timeout=30)
    assert process.returncode == 0
    lines = [json.loads(line) for line in stderr.decode().splitlines() if line.startswith("{")]
    assert {"process.started", "process.stopped"} <= {line["event"] for line in lines}
    assert insured.nom not in stderr.decode() and insured.cin not in stderr.decode()  # ids and codes only


def test_a_poll_of_submissions_is_saved_in_one_batch_and_refusals_are_sent_once(
    settings: Settings, claims_app: ClaimsApplication, codec: AvroCodec, conn: psycopg.Connection[Any],
    producer: KafkaProducer,
) -> None:  # fmt: skip
    portal = f"portal-{random_digits(9)}"
    affiliation = random_digits(7)
    people = [declare(conn, months=40, affiliation_number=affiliation) for _ in range(12)]
    create_account(conn, portal, "portal-password", "portal", [affiliation])
    topics_for(settings, portal)
    messages = [submission(codec, portal, insured, f"b-{n}") for n, insured in enumerate(people)]
    messages[4:4] = [b"garbage", submission(codec, portal, people[0], "b-x", motif_code="vacances")]
    key = f"test-{uuid.uuid4()}".encode()
    topic = portal_topic(portal)
    sent = [producer.send(topic, key=key, value=value).get(timeout=30) for value in messages]
    partition, offsets = sent[0].partition, [meta.offset for meta in sent]
    group = f"ipe-ingress-batch-{random_digits(8)}"
    ingress = Ingress(settings, claims_app, codec)
    consumer = ingress.consumer(group)
    stop = threading.Event()
    thread = threading.Thread(target=consumer.run, args=(stop,), daemon=True)
    thread.start()
    try:
        wait_for(lambda: conn.execute("SELECT 1 FROM consumer_positions WHERE consumer = %s AND topic = %s "
                                      "AND partition = %s AND next_offset > %s",
                                      (group, topic, partition, offsets[-1])).fetchone(),
                 timeout=60, what="the ingress past the last submission")  # fmt: skip
    finally:
        stop.set()
        thread.join(timeout=20)
    assert consumer.batches >= 1
    for n, insured in enumerate(people):
        claim_id = uuid.uuid5(NAMESPACE, f"{portal}:b-{n}")
        record = claims_app.repository.get(InsuredRecord.id_for(insured.immatriculation))
        assert record.claim_ids == [claim_id]
    letters = dead_letters(settings, {(topic, partition, offsets[4]), (topic, partition, offsets[5])})
    assert [
        bytes(dict(letter.headers)["dlq-code"])
        for (letter,) in (letters[(topic, partition, offsets[4])], letters[(topic, partition, offsets[5])])
    ] == [
        b"undecodable",
        b"unknown_motif",
    ]


def test_a_portal_created_while_the_ingress_runs_is_consumed_without_a_restart(
    settings: Settings, claims_app: ClaimsApplication, codec: AvroCodec, conn: psycopg.Connection[Any],
    producer: KafkaProducer, monkeypatch: pytest.MonkeyPatch,
) -> None:  # fmt: skip
    """`ipe portals create` on a running system: the ingress finds the new topic by itself (it lists the
    broker's topics, the client's pattern subscription once missed one for a whole chaos run). One portal
    has its topic before the ingress starts, so the test knows when the ingress has listed the topics once,
    whatever ran before it. What is proven is that the member lists the topics again, not how often: it
    lists them every second here instead of every PATTERN_REFRESH_MS (10 s), the most of this test's time."""
    monkeypatch.setattr(kafka_adapter, "PATTERN_REFRESH_MS", 1_000)
    topics_for(settings, f"portal-{random_digits(9)}")
    group = f"ipe-ingress-late-{random_digits(8)}"
    consumer = Ingress(settings, claims_app, codec).consumer(group)
    stop = threading.Event()
    thread = threading.Thread(target=consumer.run, args=(stop,), daemon=True)
    thread.start()
    try:
        wait_for(lambda: consumer.subscribed, timeout=60, what="the ingress subscribed to the topics there")
        portal = f"portal-{random_digits(9)}"
        insured = declare(conn, months=40)
        create_account(conn, portal, "portal-password", "portal", [insured.affiliation_number])
        topics_for(settings, portal)
        producer.send(portal_topic(portal), key=b"l-1", value=submission(codec, portal, insured, "l-1")).get(
            30
        )
        claim_id = uuid.uuid5(NAMESPACE, f"{portal}:l-1")
        wait_for(lambda: claim_id in claims_app.repository, timeout=60, what="the claim of the new portal")
        assert portal_topic(portal) in consumer.subscribed
    finally:
        stop.set()
        thread.join(timeout=20)
