"""A claim through the real pipeline: store → relay → Kafka → projector and notifier → Postgres."""

from __future__ import annotations

import uuid
from datetime import date
from decimal import Decimal
from typing import Any

import psycopg
import pytest
from kafka import KafkaConsumer, KafkaProducer, TopicPartition

from ipe_claims.application.claims import ClaimsApplication
from ipe_claims.domain.claim import OpenClaimExists
from ipe_claims.settings import CLAIM_EVENTS_TOPIC, Settings
from tests.conftest import CLOCK, Insured, days_ago, declare, wait_for
from tests.integration.conftest import Pipeline

pytestmark = pytest.mark.integration


def submit(app: ClaimsApplication, insured: Insured, motif: str = "licenciement_economique",
           loss: date | None = None) -> uuid.UUID:  # fmt: skip
    claim = app.submit(
        uuid.uuid4(), filed_at=CLOCK.now(), submitted_by="test", channel="http",
        affiliation_number=insured.affiliation_number, immatriculation=insured.immatriculation,
        cin=insured.cin, nom=insured.nom, prenoms=insured.prenoms,
        job_loss_date=loss or days_ago(5), motif_code=motif, attestation=True,
    )  # fmt: skip
    return claim.id


def claim_records(settings: Settings, claim_id: uuid.UUID) -> list[Any]:
    """Every message of the claim on ipe.claim-events, read from the start to each partition's end as of
    now: the caller waited for what it reads to be published, so nothing is left to wait out (a consumer
    timeout cost 3 s of silence a call)."""
    key = str(claim_id).encode()
    consumer = KafkaConsumer(bootstrap_servers=settings.kafka.bootstrap_servers, enable_auto_commit=False)
    try:
        partitions = [
            TopicPartition(CLAIM_EVENTS_TOPIC, p) for p in consumer.partitions_for_topic(CLAIM_EVENTS_TOPIC)
        ]
        consumer.assign(partitions)
        consumer.seek_to_beginning(*partitions)
        ends = consumer.end_offsets(partitions)
        mine: list[Any] = []

        def read() -> bool:
            for records in consumer.poll(timeout_ms=200).values():
                mine.extend(record for record in records if record.key == key)
            return all(consumer.position(tp) >= ends[tp] for tp in partitions)

        wait_for(read, what="ipe.claim-events read to its end")
        return mine
    finally:
        consumer.close()


def decided_row(conn: psycopg.Connection[Any], claim_id: uuid.UUID) -> tuple[Any, ...] | None:
    return conn.execute(
        "SELECT situation, rejection_code, monthly_amount, duration_months, version FROM claims "
        "WHERE claim_id = %s AND situation <> 'En cours'",
        (claim_id,),
    ).fetchone()


def notification_kinds(conn: psycopg.Connection[Any], claim_id: uuid.UUID) -> list[str]:
    rows = conn.execute("SELECT kind FROM notifications WHERE claim_id = %s ORDER BY created_at", (claim_id,))
    return [kind for (kind,) in rows]


def decision_events(conn: psycopg.Connection[Any], claim_id: uuid.UUID) -> int:
    return conn.execute(
        "SELECT count(*) FROM ipe_events WHERE originator_id = %s AND topic LIKE %s", (claim_id, "%Decided")
    ).fetchone()[0]


@pytest.mark.calendar
def test_valid_claim_is_decided_projected_and_notified(
    pipeline: Pipeline, claims_app: ClaimsApplication, conn: psycopg.Connection[Any]
) -> None:
    insured = declare(conn, months=40, salary=Decimal("4000.00"))
    claim_id = submit(claims_app, insured)
    row = wait_for(lambda: decided_row(conn, claim_id), what="the decision in the read model")
    assert row[:4] == ("Valable", None, Decimal("2800.00"), 6)
    assert wait_for(lambda: len(notification_kinds(conn, claim_id)) == 2 or None, what="two notifications")
    assert notification_kinds(conn, claim_id) == ["deposited", "valid"]
    assert decision_events(conn, claim_id) == 1


@pytest.mark.calendar
def test_short_history_is_rejected_with_its_reason(
    pipeline: Pipeline, claims_app: ClaimsApplication, conn: psycopg.Connection[Any]
) -> None:
    loss = days_ago(5)
    insured = declare(conn, months=20, before=loss)  # the 20 months before the loss's month, all counted
    claim_id = submit(claims_app, insured, loss=loss)
    row = wait_for(lambda: decided_row(conn, claim_id), what="the decision")
    assert row[:4] == ("Rejeté", "insufficient_days_36", None, None)
    reason = conn.execute("SELECT rejection_reason FROM claims WHERE claim_id = %s", (claim_id,)).fetchone()[
        0
    ]
    assert "520" in reason and "780" in reason
    wait_for(
        lambda: notification_kinds(conn, claim_id) == ["deposited", "rejected"] or None, what="notifications"
    )


def test_second_open_claim_for_the_same_insured_is_refused(
    claims_app: ClaimsApplication, conn: psycopg.Connection[Any]
) -> None:
    insured = declare(conn, months=40)
    first = submit(claims_app, insured)
    with pytest.raises(OpenClaimExists) as refused:
        submit(claims_app, insured)
    assert refused.value.claim_id == first


def test_relay_publishes_each_event_once_in_order_with_headers(
    pipeline: Pipeline, settings: Settings, claims_app: ClaimsApplication, conn: psycopg.Connection[Any]
) -> None:
    insured = declare(conn, months=40)
    claim_id = submit(claims_app, insured)
    wait_for(lambda: decided_row(conn, claim_id), what="the decision")
    # Its last event (3, the payments) projected: the log already holds anything published before it, twice or not.
    version = "SELECT version FROM claims WHERE claim_id = %s"
    wait_for(lambda: conn.execute(version, (claim_id,)).fetchone() == (3,), what="the payments projected")
    mine = claim_records(settings, claim_id)
    decoded = [pipeline.codec.decode(record.value) for record in mine]
    # A Valable claim's payments follow (application/paying.py), once the projector has read the decision.
    assert [name for name, _ in decoded][:2] == ["ClaimSubmitted", "ClaimDecided"]
    assert [event["version"] for _, event in decoded] == list(range(1, len(decoded) + 1))
    headers = dict(mine[1].headers)
    assert headers["event-type"] == b"ClaimDecided"
    assert headers["claim-id"] == str(claim_id).encode()
    assert headers["event-id"] == str(decoded[1][1]["event_id"]).encode()
    assert {"occurred-at"} <= set(headers)
    assert len({record.partition for record in mine}) == 1  # keyed by claim id: one partition, one order


@pytest.mark.parametrize("in_one_poll", [False, True], ids=["record by record", "in one poll"])
def test_redelivered_events_change_nothing(
    pipeline: Pipeline, settings: Settings, claims_app: ClaimsApplication, conn: psycopg.Connection[Any],
    in_one_poll: bool,
) -> None:  # fmt: skip
    insured = declare(conn, months=40)
    claim_id = submit(claims_app, insured)
    wait_for(lambda: len(notification_kinds(conn, claim_id)) == 2 or None, what="both notifications")
    wait_for(lambda: decided_row(conn, claim_id), what="the decision projected")  # the notifier may be first
    version = "SELECT version FROM claims WHERE claim_id = %s"  # 3: the payments scheduled after the decision
    wait_for(lambda: conn.execute(version, (claim_id,)).fetchone() == (3,), what="the payments projected")
    before = conn.execute("SELECT * FROM claims WHERE claim_id = %s", (claim_id,)).fetchone()
    mine = claim_records(settings, claim_id)
    if in_one_poll:  # one transaction, one save, the redelivery inside the poll itself
        with conn.transaction():
            pipeline.projector.handle(conn, [*mine, *mine])
            pipeline.notifier.handle_batch(conn, [*mine, *mine])
    else:
        for record in [*mine, *mine]:  # the same events, twice more, as a redelivery would bring them
            with conn.transaction():  # as TrackedConsumer's fallback does: batches of one
                pipeline.projector.handle(conn, [record])
                pipeline.notifier.handle_batch(conn, [record])
    assert conn.execute("SELECT * FROM claims WHERE claim_id = %s", (claim_id,)).fetchone() == before
    assert decision_events(conn, claim_id) == 1
    assert notification_kinds(conn, claim_id) == ["deposited", "valid"]


def test_an_undecodable_message_is_dead_lettered_and_the_consumers_go_on(
    pipeline: Pipeline, settings: Settings, claims_app: ClaimsApplication, conn: psycopg.Connection[Any]
) -> None:
    producer = KafkaProducer(bootstrap_servers=settings.kafka.bootstrap_servers)
    key = str(uuid.uuid4()).encode()
    metadata = producer.send(CLAIM_EVENTS_TOPIC, key=key, value=b"not avro at all").get(timeout=10)
    producer.close()
    insured = declare(conn, months=40)
    claim_id = submit(claims_app, insured)
    wait_for(lambda: decided_row(conn, claim_id), what="a later claim decided")
    reasons = wait_for(
        lambda: (
            conn.execute(
                "SELECT consumer, reason FROM dead_letters WHERE topic = %s AND partition = %s AND message_offset = %s",
                (CLAIM_EVENTS_TOPIC, metadata.partition, metadata.offset),
            ).fetchall()
            if len(
                conn.execute(
                    "SELECT 1 FROM dead_letters WHERE topic = %s AND partition = %s AND message_offset = %s",
                    (CLAIM_EVENTS_TOPIC, metadata.partition, metadata.offset),
                ).fetchall()
            )
            == 2
            else None
        ),
        what="both consumers to dead-letter the message",
    )
    assert {consumer for consumer, _ in reasons} == {"ipe-eligibility-projector", "ipe-notifier"}
    assert all("marker" in reason for _, reason in reasons)
    coordinates = (CLAIM_EVENTS_TOPIC, metadata.partition, metadata.offset)
    assert conn.execute(
        "UPDATE dead_letters SET disposition = 'refused' WHERE topic = %s AND partition = %s "
        "AND message_offset = %s AND disposition = 'parked'",  # garbage, never to replay: the health is ok again
        coordinates,
    ).rowcount == 2  # fmt: skip
