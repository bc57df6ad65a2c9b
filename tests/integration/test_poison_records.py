"""No poison stops a partition: a record the projector can never handle is parked with its reason and
coordinates, the next record of the SAME partition is decided, /healthz names the partition until the
record is replayed, and ``ipe parked replay`` leaves a still-failing record parked and clears a fixed one.
A claim filed with a job loss in year 1 (before intake refused such dates) is decided, not poison."""

from __future__ import annotations

import json
import uuid
from datetime import date, timedelta
from typing import Any

import psycopg
import pytest
from fastapi.testclient import TestClient
from kafka import KafkaProducer
from kafka.partitioner.default import murmur2

from ipe_claims.adapters.avro import AvroCodec
from ipe_claims.adapters.claim_messages import to_message
from ipe_claims.application.claims import ClaimsApplication
from ipe_claims.domain.claim import Claim
from ipe_claims.settings import CLAIM_EVENTS_TOPIC, TOPIC_PARTITIONS, Settings
from services.claim_intake.api import create_app
from services.eligibility_projector.projector import CONSUMER_NAME as PROJECTOR
from services.notifier.notifier import CONSUMER_NAME as NOTIFIER
from tests.conftest import CLOCK, TODAY, Insured, declare, wait_for
from tests.integration.audit_helpers import run_cli
from tests.integration.conftest import Pipeline
from tests.integration.test_pipeline import decided_row

pytestmark = pytest.mark.integration


def partition_of(claim_id: uuid.UUID) -> int:
    """The claim-events partition the relay's producer picks for this claim (kafka-python's partitioner)."""
    return (murmur2(str(claim_id).encode()) & 0x7FFFFFFF) % TOPIC_PARTITIONS[CLAIM_EVENTS_TOPIC]


def claim_id_on(partition: int) -> uuid.UUID:
    while partition_of(claim_id := uuid.uuid4()) != partition:
        pass
    return claim_id


def facts(insured: Insured, loss: date) -> dict[str, Any]:
    return {"affiliation_number": insured.affiliation_number, "immatriculation": insured.immatriculation,
            "cin": insured.cin, "nom": insured.nom, "prenoms": insured.prenoms, "job_loss_date": loss,
            "motif_code": "licenciement_economique", "attestation": True, "submitted_by": "test",
            "channel": "http"}  # fmt: skip


def parked_rows(conn: psycopg.Connection[Any], consumer: str, claim_id: uuid.UUID) -> list[tuple[Any, ...]]:
    return conn.execute(
        "SELECT id, topic, partition, message_offset, reason, disposition, replay_attempts, last_error, "
        "message_value IS NOT NULL FROM dead_letters WHERE consumer = %s AND message_key = %s",
        (consumer, str(claim_id).encode()),
    ).fetchall()


def health(settings: Settings, claims_app: ClaimsApplication) -> dict[str, Any]:
    with TestClient(create_app(settings, claims_app)) as client:
        response = client.get("/healthz")
    assert response.status_code == 200
    body: dict[str, Any] = response.json()
    return body


def test_a_poison_record_is_parked_and_the_next_claim_of_its_partition_is_decided(
    pipeline: Pipeline, settings: Settings, claims_app: ClaimsApplication, codec: AvroCodec,
    conn: psycopg.Connection[Any],
) -> None:  # fmt: skip
    """The poison: a ClaimSubmitted event for a claim the store does not hold (settling it raises
    AggregateNotFoundError on every try). The fix is data: the claim restored into the store; the replay
    then runs the projector's handler on the stored bytes, finds the claim settled, and clears the record."""
    missing_insured, good_insured = declare(conn, months=40), declare(conn, months=40)
    submitted = facts(missing_insured, TODAY - timedelta(days=5))
    missing = Claim.submit(uuid.uuid4(), filed_at=CLOCK.now(), **submitted)  # not saved
    partition = partition_of(missing.id)
    message = to_message(codec, missing.collect_events()[0])
    producer = KafkaProducer(bootstrap_servers=settings.kafka.bootstrap_servers, acks="all")
    producer.send(CLAIM_EVENTS_TOPIC, key=message.key, value=message.value, headers=message.headers,
                  partition=partition).get(timeout=10)  # fmt: skip
    producer.close()
    good = claims_app.submit(claim_id_on(partition), filed_at=CLOCK.now(),
                             **facts(good_insured, TODAY - timedelta(days=5)))  # fmt: skip

    assert (
        wait_for(lambda: decided_row(conn, good.id), timeout=60, what="the later claim decided")[0]
        == "Valable"
    )
    (row,) = wait_for(lambda: parked_rows(conn, PROJECTOR, missing.id), what="the poison record parked")
    (notified,) = wait_for(
        lambda: parked_rows(conn, NOTIFIER, missing.id), what="the notifier's record parked"
    )
    parked_id, topic, parked_partition, offset, reason, disposition, attempts, _, has_bytes = row
    assert (topic, parked_partition, disposition, attempts, has_bytes) == (
        CLAIM_EVENTS_TOPIC, partition, "parked", 0, True)  # fmt: skip
    assert reason.startswith("AggregateNotFoundError") and "failed 3 times" in reason
    position = conn.execute(
        "SELECT next_offset FROM consumer_positions WHERE consumer = %s AND topic = %s AND partition = %s",
        (PROJECTOR, CLAIM_EVENTS_TOPIC, partition),
    ).fetchone()[0]
    assert position > offset + 1  # the partition went on: past the poison record and the good claim's events

    report = health(settings, claims_app)
    assert report["status"] == "degraded"
    assert any(r.startswith(f"{PROJECTOR} parked") and r.endswith(f"on {CLAIM_EVENTS_TOPIC}[{partition}]")
               for r in report["reasons"])  # fmt: skip
    listed = json.loads(run_cli(settings, "parked", "list", "--json").stdout)
    assert {"id": parked_id, "consumer": PROJECTOR, "offset": offset, "disposition": "parked"}.items() <= next(
        item for item in listed if item["id"] == parked_id).items()  # fmt: skip

    # Still failing: the replay leaves it parked, with the error it met.
    result = run_cli(settings, "parked", "replay", str(parked_id))
    assert result.exit_code == 1 and "still parked" in result.stdout
    (row,) = parked_rows(conn, PROJECTOR, missing.id)
    assert row[5:7] == ("parked", 1) and row[7].startswith("AggregateNotFoundError")

    claims_app.submit(missing.id, filed_at=missing.filed_at, **submitted)  # the fix: the store has the claim
    wait_for(lambda: decided_row(conn, missing.id), timeout=60, what="the restored claim decided")
    result = run_cli(settings, "parked", "replay", str(parked_id))
    assert result.exit_code == 0 and f"{parked_id}: replayed" in result.stdout
    assert parked_rows(conn, PROJECTOR, missing.id)[0][5:7] == ("replayed", 2)
    assert run_cli(settings, "parked", "replay", str(notified[0])).exit_code == 0
    assert parked_rows(conn, NOTIFIER, missing.id)[0][5] == "replayed"
    assert all(item["id"] not in (parked_id, notified[0])
               for item in json.loads(run_cli(settings, "parked", "list", "--json").stdout))  # fmt: skip
    assert (
        conn.execute(
            "SELECT count(*) FROM ipe_events WHERE originator_id = %s AND topic LIKE %s",
            (missing.id, "%Decided"),
        ).fetchone()[0]
        == 1
    )  # the replay decided nothing twice
    assert not any(f"{CLAIM_EVENTS_TOPIC}[{partition}]" in r and "parked" in r
                   for r in health(settings, claims_app)["reasons"])  # fmt: skip


def test_a_claim_with_a_job_loss_in_year_1_is_rejected_not_retried_forever(
    pipeline: Pipeline, claims_app: ClaimsApplication, conn: psycopg.Connection[Any]
) -> None:
    """Such a claim exists only if filed before intake refused losses before the scheme (this test saves it
    to the store directly). Its 36-month window is not in the calendar; the rules judge it on the months
    that exist and reject it: it is not poison."""
    insured = declare(conn, months=40)
    legacy = claims_app.submit(uuid.uuid4(), filed_at=CLOCK.now(), **facts(insured, date(1, 1, 1)))
    row = wait_for(lambda: decided_row(conn, legacy.id), timeout=60, what="the year-1 claim decided")
    assert row[:2] == ("Rejeté", "loss_before_scheme")
    assert parked_rows(conn, PROJECTOR, legacy.id) == []
