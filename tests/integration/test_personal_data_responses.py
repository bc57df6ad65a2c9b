"""Responses that carry a token or personal data are never cached (``Cache-Control: no-store``), and the
employer is told what kind of fault stopped a message, not the mail server's or SMS gateway's own words
(which may quote the worker's address, number or name); auditors keep the recorded text."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from typing import Any

import psycopg
import pytest
from fastapi.testclient import TestClient

from ipe_claims.application.claims import ClaimsApplication
from ipe_claims.settings import Settings
from services.claim_intake.routes.notifications import summary
from tests.conftest import CLOCK, Insured, declare
from tests.integration.conftest import Pipeline, api_client
from tests.integration.test_api import PASSWORD, claim_body, decided, employer_of, submit, user

pytestmark = pytest.mark.integration
# What an SMS gateway or a mail server may answer: the worker's number, address and name quoted back.
RAW = {"sms": "gave up after 5 attempts: gateway 422: number +212 6 12 34 56 78 (EL ALAMI Fatima) is barred",
       "email": "recipient refused: 550 5.1.1 <fatima.elalami@example.ma>: mailbox of Fatima EL ALAMI full"}  # fmt: skip


@pytest.fixture(scope="module")
def client(settings: Settings, claims_app: ClaimsApplication) -> Iterator[TestClient]:
    with api_client(settings, claims_app) as test_client:
        yield test_client


def decided_claim(client: TestClient, conn: psycopg.Connection[Any]) -> tuple[Insured, Any, Any, str]:
    """An insured, their employer, an auditor, and the insured's claim once decided."""
    insured = declare(conn, months=40)
    employer = employer_of(client, conn, insured)
    auditor = user(client, conn, "auditor")
    claim_id = submit(client, employer, insured)
    decided(client, employer, claim_id)
    return insured, employer, auditor, claim_id


def test_token_and_personal_data_responses_are_not_stored_by_any_cache(
    pipeline: Pipeline, client: TestClient, conn: psycopg.Connection[Any]
) -> None:
    insured, employer, auditor, claim_id = decided_claim(client, conn)
    token = client.post("/api/v1/auth/token", json={"username": employer.username, "password": PASSWORD})
    refused = client.post("/api/v1/auth/token", json={"username": employer.username, "password": "wrong"})
    answers = {
        "token": token, "refused login": refused,
        "preview": client.post("/api/v1/claims/preview", json=claim_body(insured), headers=employer.headers),
        "claim": client.get(f"/api/v1/claims/{claim_id}", headers=employer.headers),
        "history": client.get("/api/v1/claims", headers=employer.headers),
        "export": client.get("/api/v1/claims", headers=employer.headers | {"Accept": "text/csv"}),
        "decision": client.get(f"/api/v1/claims/{claim_id}/decision", headers=auditor.headers),
        "notifications": client.get(f"/api/v1/claims/{claim_id}/notifications", headers=employer.headers),
        "events": client.get(f"/api/v1/claims/{claim_id}/events", headers=auditor.headers),
        "insured": client.get(f"/api/v1/affiliations/{insured.affiliation_number}/insured",
                              headers=employer.headers),
        "refusal": client.post("/api/v1/claims", json=claim_body(insured), headers=employer.headers),
    }  # fmt: skip
    for name, response in answers.items():
        assert response.status_code < 500, (name, response.text)
        assert response.headers.get("cache-control") == "no-store", name
    assert answers["token"].status_code == 200 and answers["export"].status_code == 200


def _failed_delivery(conn: psycopg.Connection[Any], claim_id: str, channel: str, reason: str) -> None:
    """A delivery the notifier gave up on, as its read model records it."""
    now = CLOCK.now()
    conn.execute(
        "INSERT INTO deliveries (delivery_id, event_id, claim_id, kind, channel, status, attempts, "
        "possible_duplicates, message_id, reason, requested_at, last_attempt_at, version) "
        "VALUES (%s, %s, %s, 'deposited', %s, 'failed', 5, 0, %s, %s, %s, %s, 7)",
        (uuid.uuid4(), uuid.uuid4(), claim_id, channel, str(uuid.uuid4()), reason, now, now),
    )


RANDOM_FIELDS = {"event_id", "message_id", "requested_at", "last_attempt_at", "sent_at", "next_attempt_at"}


def test_a_gateways_error_text_is_summarised_for_the_employer_and_kept_for_auditors(
    pipeline: Pipeline, client: TestClient, conn: psycopg.Connection[Any]
) -> None:
    _, employer, auditor, claim_id = decided_claim(client, conn)
    for channel, reason in RAW.items():
        _failed_delivery(conn, claim_id, channel, reason)

    def reasons(who: Any) -> dict[str, Any]:
        response = client.get(f"/api/v1/claims/{claim_id}/notifications", headers=who.headers)
        assert response.status_code == 200
        return {row["channel"]: row["reason"] for row in response.json() if row["status"] == "failed"}

    rows = client.get(f"/api/v1/claims/{claim_id}/notifications", headers=employer.headers).json()
    # Every field the employer reads but the random ids and the instants, where "550" or "212" may occur.
    shown = json.dumps(
        [{k: v for k, v in row.items() if k not in RANDOM_FIELDS} for row in rows], ensure_ascii=False
    )
    for leak in ("212", "34 56", "fatima", "Fatima", "ALAMI", "barred", "550", "mailbox"):
        assert leak not in shown
    assert reasons(employer) == {"sms": "recipient_refused", "email": "recipient_refused"}
    assert reasons(auditor) == RAW


def test_each_kind_of_reason_has_its_summary() -> None:
    assert [summary(reason) for reason in (
        None, "no_contact", "waiting: channel sms not configured (IPE_SMS_URL)",
        "recipient refused: 550 <x@y.ma>", "gateway 400: bad number 0612345678", "smtp 552 mailbox full",
        "smtp 451 try later", "gateway 503: busy", "smtp unreachable: ConnectionRefusedError",
        "gave up after 5 attempts: gateway unreachable: ConnectTimeout", "authentication failed: 535",
    )] == [None, "no_contact", "channel_not_configured", "recipient_refused", "recipient_refused",
           "recipient_refused", "provider_error", "provider_error", "provider_unreachable", "provider_unreachable",
           "provider_error"]  # fmt: skip
