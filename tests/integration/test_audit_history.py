"""A claim's history through its whole life: GET /api/v1/claims/{id}/events and `ipe audit claim`."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import psycopg
import pytest
from fastapi.testclient import TestClient

from ipe_claims.adapters.accounts import create_account
from ipe_claims.application.claims import ClaimsApplication
from ipe_claims.application.clock import FixedClock
from ipe_claims.application.returning import RecordReturnToWork
from ipe_claims.settings import Settings
from services.claim_intake.api import create_app
from services.eligibility_projector.projector import CONSUMER_NAME as PROJECTOR
from tests.conftest import CLOCK, TODAY, declare, random_digits, wait_for
from tests.integration.audit_helpers import run_cli, wait_projected
from tests.integration.conftest import Pipeline

pytestmark = pytest.mark.integration
PASSWORD = "correct horse battery"


@pytest.fixture(scope="module")
def client(settings: Settings, claims_app: ClaimsApplication) -> Iterator[TestClient]:
    with TestClient(create_app(settings, claims_app)) as test_client:
        yield test_client


def login(client: TestClient, conn: psycopg.Connection[Any], role: str, *affiliations: str) -> dict[str, str]:
    username = f"{role}-{random_digits(9)}"
    create_account(conn, username, PASSWORD, role, list(affiliations))
    response = client.post("/api/v1/auth/token", json={"username": username, "password": PASSWORD})
    assert response.status_code == 200, response.text
    return {"Authorization": f"Bearer {response.json()['access_token']}", "X-User": username}


@pytest.fixture(scope="module")
def lived(
    settings: Settings, claims_app: ClaimsApplication, pipeline: Pipeline, client: TestClient
) -> dict[str, Any]:
    """A claim filed over HTTP, decided valid by the projector, then ended by a return to work."""
    with psycopg.connect(settings.database.url, autocommit=True) as conn:
        insured = declare(conn, months=36)
        employer = login(client, conn, "employer", insured.affiliation_number)
        loss = TODAY - timedelta(days=5)
        response = client.post("/api/v1/claims", headers=employer, json={
            "affiliation_number": insured.affiliation_number, "immatriculation": insured.immatriculation,
            "job_loss_date": loss.isoformat(), "motif_code": "licenciement_economique", "attestation": True,
        })  # fmt: skip
        assert response.status_code == 201, response.text
        claim_id = uuid.UUID(response.json()["claim_id"])
        wait_projected(conn, [claim_id])
        RecordReturnToWork(claims_app, FixedClock(CLOCK.now()))(
            claim_id, loss + timedelta(days=45), "cnss-agent-7", declared_on=TODAY
        )
        wait_projected(conn, [claim_id])
        assert run_cli(settings, "audit", "seal").exit_code == 0
        return {
            "claim_id": claim_id,
            "insured": insured,
            "employer": employer,
            "auditor": login(client, conn, "auditor"),
            "other_employer": login(client, conn, "employer", random_digits(7)),
            "analyst": login(client, conn, "analyst"),
        }


def without_payments(events: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [e for e in events if not e["type"].startswith("ClaimPayment")]


def test_an_auditor_sees_every_event_in_order_with_who_and_what(
    client: TestClient, lived: dict[str, Any]
) -> None:
    response = client.get(f"/api/v1/claims/{lived['claim_id']}/events", headers=lived["auditor"])
    assert response.status_code == 200, response.text
    history = response.json()
    assert [e["version"] for e in history["events"]] == list(range(1, len(history["events"]) + 1))
    events = without_payments(history["events"])  # scheduled after the decision, in a race with the return
    assert [e["type"] for e in events] == ["ClaimSubmitted", "ClaimDecided", "ClaimReturnedToWork"]
    assert [e["occurred_at"] for e in events] == sorted(e["occurred_at"] for e in events)
    assert events[0]["caused_by"] == f"{lived['employer']['X-User']} (http)"
    assert events[0]["payload"]["immatriculation"] == lived["insured"].immatriculation
    assert events[1]["caused_by"] == PROJECTOR
    assert events[1]["payload"]["decision"]["situation"] == "Valable"
    assert events[1]["ruleset_version"] == events[1]["payload"]["decision"]["ruleset_version"]
    assert events[0]["ruleset_version"] is None
    assert events[2]["caused_by"] == "cnss-agent-7"
    assert {e["sealed"] for e in events} == {"sealed"}
    assert {n["kind"] for n in history["notifications"]} >= {"deposited", "valid"}


def test_the_claims_employer_sees_only_types_and_times(client: TestClient, lived: dict[str, Any]) -> None:
    response = client.get(f"/api/v1/claims/{lived['claim_id']}/events", headers=lived["employer"])
    assert response.status_code == 200, response.text
    events = without_payments(response.json()["events"])
    assert [e["type"] for e in events] == ["ClaimSubmitted", "ClaimDecided", "ClaimReturnedToWork"]
    assert all(set(e) == {"version", "occurred_at", "type"} for e in events)
    assert "notifications" not in response.json()


@pytest.mark.parametrize("who", ["other_employer", "analyst"])
def test_anyone_else_finds_nothing(client: TestClient, lived: dict[str, Any], who: str) -> None:
    response = client.get(f"/api/v1/claims/{lived['claim_id']}/events", headers=lived[who])
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "not_found"


@pytest.mark.parametrize("claim_id", [str(uuid.uuid4()), "not-a-uuid"])
def test_an_unknown_claim_is_not_found(client: TestClient, lived: dict[str, Any], claim_id: str) -> None:
    assert client.get(f"/api/v1/claims/{claim_id}/events", headers=lived["auditor"]).status_code == 404


def test_the_command_prints_the_same_history(
    settings: Settings, client: TestClient, lived: dict[str, Any]
) -> None:
    result = run_cli(settings, "audit", "claim", str(lived["claim_id"]), "--json")
    assert result.exit_code == 0, result.output
    from_cli = json.loads(result.output)
    from_api = client.get(f"/api/v1/claims/{lived['claim_id']}/events", headers=lived["auditor"]).json()
    assert from_cli["events"] == from_api["events"]
    table = run_cli(settings, "audit", "claim", str(lived["claim_id"]))
    assert table.exit_code == 0 and "ClaimReturnedToWork" in table.output
    missing = run_cli(settings, "audit", "claim", str(uuid.uuid4()))
    assert missing.exit_code == 1 and "No claim" in missing.output


def test_the_auditors_reading_is_in_the_access_log(
    client: TestClient, conn: psycopg.Connection[Any], lived: dict[str, Any]
) -> None:
    client.get(f"/api/v1/claims/{lived['claim_id']}/events", headers=lived["auditor"])
    wait_for(
        lambda: conn.execute(
            "SELECT 1 FROM access_log WHERE username = %s AND action = 'claim.events' AND claim_id = %s",
            (lived["auditor"]["X-User"], lived["claim_id"]),
        ).fetchone(),
        5,
        "the access-log row",
    )
