"""Intake refuses what the rules cannot judge before a claim exists: a job loss before the scheme began
(1 December 2014, loi n° 03-14) is refused on HTTP (422, the one error shape, FR and AR) and on the Kafka
ingress (dead letter with the code); the first day of the scheme is taken and decided by the rules."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import date
from typing import Any

import psycopg
import pytest
from fastapi.testclient import TestClient
from kafka import KafkaProducer

from ipe_claims.adapters.accounts import create_account
from ipe_claims.adapters.avro import AvroCodec
from ipe_claims.application.claims import ClaimsApplication
from ipe_claims.domain.claim import NAMESPACE, InsuredRecord
from ipe_claims.domain.rules import FILED_LATE, SCHEME_START
from ipe_claims.settings import Settings, portal_topic
from tests.conftest import declare, random_digits
from tests.integration.conftest import Pipeline, api_client
from tests.integration.test_api import claim_body, decided, employer_of, error
from tests.integration.test_intake_ingress import dead_letters, run_ingress, submission, topics_for

pytestmark = pytest.mark.integration
BEFORE_SCHEME = ("0001-01-01", "2014-11-30")


@pytest.fixture(scope="module")
def client(settings: Settings, claims_app: ClaimsApplication) -> Iterator[TestClient]:
    with api_client(settings, claims_app) as test_client:
        yield test_client


@pytest.mark.parametrize("loss", BEFORE_SCHEME)
def test_http_refuses_a_job_loss_before_the_scheme(
    client: TestClient, claims_app: ClaimsApplication, conn: psycopg.Connection[Any], loss: str
) -> None:
    insured = declare(conn, months=40)
    employer = employer_of(client, conn, insured)
    for path in ("/api/v1/claims", "/api/v1/claims/preview"):
        refused = error(
            client.post(path, json=claim_body(insured, job_loss_date=loss), headers=employer.headers), 422
        )
        assert (refused["code"], refused["field"]) == ("job_loss_date_before_scheme", "job_loss_date")
        assert "01/12/2014" in refused["message_fr"] and "01/12/2014" in refused["message_ar"]
    assert InsuredRecord.id_for(insured.immatriculation) not in claims_app.repository  # no claim exists


def test_http_takes_the_first_day_of_the_scheme_and_the_rules_decide_it(
    pipeline: Pipeline, client: TestClient, conn: psycopg.Connection[Any]
) -> None:
    insured = declare(conn, months=40, before=SCHEME_START)
    employer = employer_of(client, conn, insured)
    response = client.post("/api/v1/claims", json=claim_body(insured, job_loss_date="2014-12-01"),
                           headers=employer.headers)  # fmt: skip
    assert response.status_code == 201, response.text
    claim = decided(client, employer, response.json()["claim_id"]).json()
    assert (claim["situation"], claim["rejection_code"]) == ("Rejeté", FILED_LATE)  # filed years later


def test_the_kafka_ingress_dead_letters_a_job_loss_before_the_scheme(
    settings: Settings, claims_app: ClaimsApplication, codec: AvroCodec, conn: psycopg.Connection[Any]
) -> None:
    portal = f"portal-{random_digits(9)}"
    insured = [declare(conn, months=40) for _ in range(3)]
    create_account(conn, portal, "portal-password", "portal", [who.affiliation_number for who in insured])
    topics_for(settings, portal)
    topic = portal_topic(portal)
    losses = [date.fromisoformat(day) for day in (*BEFORE_SCHEME, "2014-12-01")]
    producer = KafkaProducer(bootstrap_servers=settings.kafka.bootstrap_servers, acks="all")
    key = f"test-{uuid.uuid4()}".encode()  # one partition
    sent = [producer.send(topic, key=key, value=submission(codec, portal, who, f"f-{n}", job_loss_date=loss))
            .get(timeout=30) for n, (who, loss) in enumerate(zip(insured, losses, strict=True))]  # fmt: skip
    producer.close()
    partition, offsets = sent[0].partition, [meta.offset for meta in sent]
    run_ingress(
        settings,
        claims_app,
        codec,
        f"ipe-ingress-test-{random_digits(8)}",
        {(topic, partition): offsets[-1]},
        conn,
    )

    letters = dead_letters(settings, {(topic, partition, offset) for offset in offsets[:2]})
    for offset in offsets[:2]:
        head = {k: bytes(v).decode() for k, v in letters[(topic, partition, offset)][0].headers}
        assert head["dlq-code"] == "job_loss_date_before_scheme" and "01/12/2014" in head["dlq-reason"]
    stored = conn.execute(
        "SELECT message_offset, reason, disposition FROM dead_letters WHERE consumer = 'ipe-ingress' "
        "AND topic = %s AND partition = %s AND message_offset = ANY(%s) ORDER BY message_offset",
        (topic, partition, offsets),
    ).fetchall()
    assert [(o, r.split(":")[0], d) for o, r, d in stored] == [
        (offsets[0], "job_loss_date_before_scheme", "refused"), (offsets[1], "job_loss_date_before_scheme", "refused")]  # fmt: skip
    for who in insured[:2]:
        assert InsuredRecord.id_for(who.immatriculation) not in claims_app.repository
    claim = claims_app.get_claim(uuid.uuid5(NAMESPACE, f"{portal}:f-2"))  # the first day of the scheme
    assert claim.job_loss_date == SCHEME_START
