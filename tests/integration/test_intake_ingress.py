"""The Kafka ingress against the harness's broker and Postgres: valid submissions become claims exactly
once, whatever is redelivered; every refused message is on ipe.dead-letters with its code."""

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

from ipe_claims.adapters.accounts import create_account
from ipe_claims.adapters.avro import AvroCodec
from ipe_claims.application import ClaimsApplication
from ipe_claims.domain.claim import NAMESPACE, InsuredRecord
from ipe_claims.infra.local import free_port
from ipe_claims.settings import DEAD_LETTERS_TOPIC, SUBMISSIONS_TOPIC, Settings
from services.claim_intake.ingress import Ingress
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


def run_ingress(settings: Settings, claims_app: ClaimsApplication, codec: AvroCodec, group: str,
                until: dict[int, int], conn: psycopg.Connection[Any]) -> None:  # fmt: skip
    """Run an ingress member of consumer group ``group`` until it has passed ``until`` (partition → offset)."""
    stop = threading.Event()
    thread = threading.Thread(
        target=Ingress(settings, claims_app, codec).run, args=(stop, group), daemon=True
    )
    thread.start()
    try:
        for partition, offset in until.items():
            wait_for(
                lambda p=partition, o=offset: conn.execute(
                    "SELECT 1 FROM consumer_positions WHERE consumer = %s AND topic = %s AND partition = %s "
                    "AND next_offset > %s",
                    (group, SUBMISSIONS_TOPIC, p, o),
                ).fetchone(),
                timeout=60,
                what=f"ingress {group} past offset {offset} of partition {partition}",
            )
    finally:
        stop.set()
        thread.join(timeout=20)


def dead_letters(settings: Settings, source_partition: int, offsets: set[int]) -> dict[int, list[Any]]:
    """The dead letters of these source offsets, by offset (a list: at least once may repeat one)."""
    consumer = KafkaConsumer(bootstrap_servers=settings.kafka_bootstrap_servers, enable_auto_commit=False,
                             consumer_timeout_ms=500)  # fmt: skip
    partitions = [TopicPartition(DEAD_LETTERS_TOPIC, p) for p in range(3)]
    consumer.assign(partitions)
    consumer.seek_to_beginning(*partitions)
    found: dict[int, list[Any]] = {}

    def probe() -> bool:
        for records in consumer.poll(timeout_ms=500).values():
            for record in records:
                head = {k: bytes(v).decode() for k, v in record.headers}
                if (head["dlq-source-topic"] == SUBMISSIONS_TOPIC and int(head["dlq-source-partition"]) == source_partition
                        and int(head["dlq-source-offset"]) in offsets):  # fmt: skip
                    found.setdefault(int(head["dlq-source-offset"]), []).append(record)
        return set(found) == offsets

    try:
        wait_for(probe, timeout=30, what="the dead letters")
    finally:
        consumer.close()
    return found


@pytest.fixture
def producer(settings: Settings) -> Iterator[KafkaProducer]:
    producer = KafkaProducer(bootstrap_servers=settings.kafka_bootstrap_servers, acks="all")
    yield producer
    producer.close()


@pytest.mark.calendar
def test_valid_duplicate_and_garbage_submissions(
    settings: Settings, claims_app: ClaimsApplication, codec: AvroCodec, conn: psycopg.Connection[Any],
    producer: KafkaProducer,
) -> None:  # fmt: skip
    portal, employer, analyst = (f"{role}-{random_digits(9)}" for role in ("portal", "employer", "analyst"))
    own, by_portal, foreign, lonely = (declare(conn, months=40) for _ in range(4))
    create_account(conn, portal, "portal-password", "portal", [])
    create_account(conn, employer, "employer-password", "employer", [own.affiliation_number])
    create_account(conn, analyst, "analyst-password", "analyst", [])
    tomorrow = TODAY + timedelta(days=1)
    first = submission(codec, portal, by_portal, "s-1")
    messages: list[tuple[bytes | None, str | None]] = [  # (value, the dead-letter code or None for a claim)
        (first, None),
        (first, None),  # redelivered by the portal: the same claim
        (submission(codec, employer, own, "e-1"), None),
        (submission(codec, employer, foreign, "e-2"), "not_found"),  # not the employer's affiliation
        (b"certainly not avro", "undecodable"),
        (None, "undecodable"),
        (first[:-3], "undecodable"),  # truncated
        (submission(codec, f"nobody-{random_digits(6)}", foreign, "x-1"), "unknown_portal"),
        (submission(codec, analyst, foreign, "x-2"), "unknown_portal"),
        (submission(codec, "nul\x00portal", foreign, "x-3"), "unknown_portal"),
        (submission(codec, portal, foreign, "s-2", attestation=False), "attestation_required"),
        (submission(codec, portal, foreign, "s-3", motif_code="vacances"), "unknown_motif"),
        (submission(codec, portal, foreign, "s-4", job_loss_date=tomorrow), "job_loss_date_in_future"),
        (submission(codec, portal, by_portal, "s-5"), "open_claim_exists"),
        (submission(codec, portal, by_portal, "s-1", motif_code="fin_cdd"), "idempotency_key_reused"),
        (submission(codec, portal, lonely, "s-6", affiliation_number=foreign.affiliation_number),
         "insured_not_declared"),
        (submission(codec, portal, foreign, "s-7", immatriculation="12\x0034"), "invalid_type"),
    ]  # fmt: skip
    key = f"test-{uuid.uuid4()}".encode()  # one partition, so the order above holds
    sent = [producer.send(SUBMISSIONS_TOPIC, key=key, value=value).get(timeout=30) for value, _ in messages]
    partition = sent[0].partition
    offsets = [meta.offset for meta in sent]
    group = f"ipe-ingress-test-{random_digits(8)}"
    run_ingress(settings, claims_app, codec, group, {partition: offsets[-1]}, conn)

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

    refused = {offset: code for offset, (_, code) in zip(offsets, messages, strict=True) if code}
    letters = dead_letters(settings, partition, set(refused))
    for offset, code in refused.items():
        (letter,) = letters[offset]
        head = {k: bytes(v).decode() for k, v in letter.headers}
        assert head["dlq-code"] == code, head
        assert head["dlq-reason"].startswith(FRENCH_REASONS.get(code, "")), head  # in French (docs/api.md)
        assert letter.key == f"{SUBMISSIONS_TOPIC}/{partition}/{offset}".encode()
        assert letter.value == messages[offsets.index(offset)][0]  # the original bytes
    stored = conn.execute(
        "SELECT message_offset, reason FROM dead_letters WHERE consumer = 'ipe-ingress' AND topic = %s "
        "AND partition = %s AND message_offset = ANY(%s)",
        (SUBMISSIONS_TOPIC, partition, list(refused)),
    ).fetchall()
    assert {row[0]: row[1].split(":")[0] for row in stored} == refused

    # Everything redelivered (a new group starts from the beginning): no claim twice, no claim lost.
    run_ingress(settings, claims_app, codec, f"{group}-again", {partition: offsets[-1]}, conn)
    assert claims_app.repository.get(InsuredRecord.id_for(by_portal.immatriculation)).claim_ids == [
        portal_claim
    ]
    assert claims_app.repository.get(InsuredRecord.id_for(own.immatriculation)).claim_ids == [employer_claim]
    again = dead_letters(settings, partition, set(refused))
    assert all(len(again[offset]) == 2 for offset in refused)  # at least once, with the same key
    assert all(len({r.key for r in again[offset]}) == 1 for offset in refused)


def test_the_ingress_process_submits_and_stops_on_sigterm(
    settings: Settings, claims_app: ClaimsApplication, codec: AvroCodec, conn: psycopg.Connection[Any],
    producer: KafkaProducer,
) -> None:  # fmt: skip
    """``python -m services.claim_intake.ingress`` as `ipe up` runs it, with its metrics port."""
    portal = f"portal-{random_digits(9)}"
    create_account(conn, portal, "portal-password", "portal", [])
    insured = declare(conn, months=40)
    metrics_port = free_port()
    env = {**os.environ, "DATABASE_URL": settings.database_url, "IPE_KAFKA_FAST_GROUPS": "1",
           "KAFKA_BOOTSTRAP_SERVERS": settings.kafka_bootstrap_servers,
           "IPE_INGRESS_METRICS_PORT": str(metrics_port)}  # fmt: skip
    process = subprocess.Popen([sys.executable, "-m", "services.claim_intake.ingress"], env=env,
                               stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)  # fmt: skip
    try:
        producer.send(SUBMISSIONS_TOPIC, key=b"p-1", value=submission(codec, portal, insured, "p-1")).get(30)
        producer.send(SUBMISSIONS_TOPIC, key=b"p-2", value=b"\xc3\x01garbage").get(30)
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
    create_account(conn, portal, "portal-password", "portal", [])
    people = [declare(conn, months=40) for _ in range(12)]
    messages = [submission(codec, portal, insured, f"b-{n}") for n, insured in enumerate(people)]
    messages[4:4] = [b"garbage", submission(codec, portal, people[0], "b-x", motif_code="vacances")]
    key = f"test-{uuid.uuid4()}".encode()
    sent = [producer.send(SUBMISSIONS_TOPIC, key=key, value=value).get(timeout=30) for value in messages]
    partition, offsets = sent[0].partition, [meta.offset for meta in sent]
    group = f"ipe-ingress-batch-{random_digits(8)}"
    ingress = Ingress(settings, claims_app, codec)
    consumer = ingress.consumer(group)
    stop = threading.Event()
    thread = threading.Thread(target=consumer.run, args=(stop,), daemon=True)
    thread.start()
    try:
        wait_for(lambda: conn.execute("SELECT 1 FROM consumer_positions WHERE consumer = %s AND partition = %s "
                                      "AND next_offset > %s", (group, partition, offsets[-1])).fetchone(),
                 timeout=60, what="the ingress past the last submission")  # fmt: skip
    finally:
        stop.set()
        thread.join(timeout=20)
    assert consumer.batches >= 1
    for n, insured in enumerate(people):
        claim_id = uuid.uuid5(NAMESPACE, f"{portal}:b-{n}")
        record = claims_app.repository.get(InsuredRecord.id_for(insured.immatriculation))
        assert record.claim_ids == [claim_id]
    letters = dead_letters(settings, partition, {offsets[4], offsets[5]})
    assert [
        bytes(dict(letter.headers)["dlq-code"]) for (letter,) in (letters[offsets[4]], letters[offsets[5]])
    ] == [
        b"undecodable",
        b"unknown_motif",
    ]
