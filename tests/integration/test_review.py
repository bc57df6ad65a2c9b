"""An agent's review on the real pipeline (store, relay, broker, projector, read model, API): a claim under
« Autre » waits in review until an agent rules, then the rules decide it and the explanation names the
agent; a late filing rejected then granted force majeure is decided again, its first decided_at kept;
only agents may review, and a bad body or a claim not in review is refused with a code, force majeure
while a later claim of the insured is open with 409 later_claim_open."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime, timedelta
from typing import Any

import psycopg
import pytest
from fastapi.testclient import TestClient

from ipe_claims.analytics.simulation import simulate
from ipe_claims.application.claims import ClaimsApplication
from ipe_claims.application.clock import FixedClock
from ipe_claims.settings import Settings
from services.claim_intake.api import create_app
from tests.conftest import Insured, declare, wait_for
from tests.integration.conftest import Pipeline
from tests.integration.test_api import user

pytestmark = pytest.mark.integration
LOSS = date(2026, 10, 2)
RULED_AT = datetime(2027, 1, 11, 10, tzinfo=UTC)


@pytest.fixture
def client(settings: Settings, claims_app: ClaimsApplication) -> Any:
    with TestClient(create_app(settings, claims_app, FixedClock(RULED_AT))) as test_client:
        yield test_client


def submit(app: ClaimsApplication, insured: Insured, motif: str, filed_after_days: int) -> uuid.UUID:
    filed = datetime(LOSS.year, LOSS.month, LOSS.day, 9, tzinfo=UTC) + timedelta(days=filed_after_days)
    return app.submit(
        uuid.uuid4(), filed_at=filed, submitted_by="test", channel="http",
        affiliation_number=insured.affiliation_number, immatriculation=insured.immatriculation,
        cin=insured.cin, nom=insured.nom, prenoms=insured.prenoms, job_loss_date=LOSS, motif_code=motif,
        attestation=True,
    ).id  # fmt: skip


def row(conn: psycopg.Connection[Any], claim_id: uuid.UUID) -> dict[str, Any] | None:
    found = conn.execute(
        "SELECT situation, stage, rejection_code, review_outcome, reviewed_at, force_majeure_at "
        "FROM claims WHERE claim_id = %s",
        (claim_id,),
    ).fetchone()
    names = ("situation", "stage", "rejection_code", "review_outcome", "reviewed_at", "force_majeure_at")
    return dict(zip(names, found, strict=True)) if found else None


def projected(conn: psycopg.Connection[Any], claim_id: uuid.UUID, **expected: Any) -> dict[str, Any]:
    def probe() -> dict[str, Any] | None:
        found = row(conn, claim_id)
        return found if found and all(found[k] == v for k, v in expected.items()) else None

    return wait_for(probe, what=f"the read model's {expected}")


def test_a_claim_under_autre_waits_for_an_agent_who_rules_it_involuntary(
    pipeline: Pipeline, client: TestClient, claims_app: ClaimsApplication, conn: psycopg.Connection[Any]
) -> None:
    insured = declare(conn, months=40, before=LOSS)
    claim_id = submit(claims_app, insured, "autre", filed_after_days=10)
    projected(conn, claim_id, stage="review", situation="En cours")
    employer = user(client, conn, "employer", insured.affiliation_number)
    shown = client.get(f"/api/v1/claims/{claim_id}", headers=employer.headers).json()
    assert (shown["situation"], shown["stage"]) == ("En cours", "review")
    assert claims_app.get_claim(claim_id).decision is None  # the projector left it to an agent

    agent = user(client, conn, "agent")
    for who in (employer, user(client, conn, "auditor")):
        refused = client.post(f"/api/v1/claims/{claim_id}/review", headers=who.headers,
                              json={"involuntary": True, "reason": "PV"})  # fmt: skip
        assert refused.status_code == 403 and refused.json()["error"]["code"] == "forbidden"
    for body, code in (
        ({"involuntary": True}, "missing_field"),
        ({"involuntary": True, "reason": "   "}, "reason_required"),
        ({"involuntary": True, "force_majeure": True, "reason": "PV"}, "invalid_review"),
        ({"reason": "PV"}, "invalid_review"),
    ):
        bad = client.post(f"/api/v1/claims/{claim_id}/review", headers=agent.headers, json=body)
        assert bad.status_code == 422 and bad.json()["error"]["code"] == code, bad.text
    early = client.post(f"/api/v1/claims/{claim_id}/review", headers=agent.headers,
                        json={"force_majeure": True, "reason": "Hospitalisation"})  # fmt: skip
    assert early.status_code == 409 and early.json()["error"]["code"] == "not_rejected_late"

    ruled = client.post(f"/api/v1/claims/{claim_id}/review", headers=agent.headers,
                        json={"involuntary": True, "reason": "Fermeture du site après l'accident"})  # fmt: skip
    assert ruled.status_code == 200, ruled.text
    assert ruled.json()["situation"] == "Valable" and ruled.json()["stage"] == "decided"
    again = client.post(f"/api/v1/claims/{claim_id}/review", headers=agent.headers,
                        json={"involuntary": False, "reason": "Erreur"})  # fmt: skip
    assert again.status_code == 409 and again.json()["error"]["code"] == "claim_already_decided"
    projected(conn, claim_id, stage="decided", situation="Valable", review_outcome="involuntary")

    auditor = user(client, conn, "auditor")
    explained = client.get(f"/api/v1/claims/{claim_id}/decision", headers=auditor.headers).json()
    assert explained["review"] == {"involuntary": True, "reason": "Fermeture du site après l'accident",
                                   "agency": "CASA-01", "agent": agent.username,
                                   "ruled_at": RULED_AT.isoformat()}  # fmt: skip
    assert explained["decided_at"] == RULED_AT.isoformat()
    motif_rule = next(r for r in explained["rules"] if r["rule"] == "involuntary_loss")
    assert "Fermeture du site" in motif_rule["reason_fr"] and motif_rule["figures"]["review"] == "involuntary"
    for_employer = client.get(f"/api/v1/claims/{claim_id}/decision", headers=employer.headers).json()
    assert "agent" not in for_employer["review"] and for_employer["review"]["agency"] == "CASA-01"

    history = client.get(f"/api/v1/claims/{claim_id}/events", headers=auditor.headers).json()["events"]
    ruling = next(e for e in history if e["type"] == "ClaimReviewRuled")
    assert (
        ruling["caused_by"] == f"{agent.username} (CASA-01)" and ruling["occurred_at"] == RULED_AT.isoformat()
    )
    assert ruling["payload"]["reason"] == "Fermeture du site après l'accident"
    logged = conn.execute("SELECT username, role, agency FROM access_log WHERE claim_id = %s AND "
                          "action = 'claim.review'", (str(claim_id),)).fetchall()  # fmt: skip
    assert logged == [(agent.username, "agent", "CASA-01")]
    month = conn.execute(
        "SELECT kind, outcome FROM analytics.reviews WHERE month = '2027-01-01' AND motif_code = 'autre' "
        "AND kind = 'motif' AND outcome = 'involuntary'"
    ).fetchone()
    assert month == ("motif", "involuntary")


def test_a_late_filing_rejected_then_granted_force_majeure_keeps_its_first_decided_at(
    pipeline: Pipeline, client: TestClient, claims_app: ClaimsApplication, conn: psycopg.Connection[Any]
) -> None:
    insured = declare(conn, months=40, before=LOSS)
    claim_id = submit(claims_app, insured, "licenciement_economique", filed_after_days=75)
    projected(conn, claim_id, situation="Rejeté", rejection_code="filed_late", stage="decided")
    first_decided_at = claims_app.get_claim(claim_id).decided_at
    assert first_decided_at is not None
    agent = user(client, conn, "agent")
    not_in_review = client.post(f"/api/v1/claims/{claim_id}/review", headers=agent.headers,
                                json={"involuntary": True, "reason": "PV"})  # fmt: skip
    assert (
        not_in_review.status_code == 409 and not_in_review.json()["error"]["code"] == "claim_already_decided"
    )

    granted = client.post(f"/api/v1/claims/{claim_id}/review", headers=agent.headers,
                          json={"force_majeure": True, "reason": "Hospitalisation (certificat)"})  # fmt: skip
    assert granted.status_code == 200, granted.text
    body = granted.json()
    assert body["situation"] == "Valable" and body["decided_at"] == first_decided_at.isoformat()
    assert [(d["situation"], d["rejection_code"]) for d in body["decisions"]] == [
        ("Rejeté", "filed_late"), ("Valable", None),
    ]  # fmt: skip
    assert body["decisions"][1]["decided_at"] == RULED_AT.isoformat()
    assert body["force_majeure"]["agent"] == agent.username and body["force_majeure"]["agency"] == "CASA-01"
    filing = next(r for r in body["rules"] if r["rule"] == "filed_in_time")
    assert filing["passed"] and "Hospitalisation" in filing["reason_fr"]
    projected(conn, claim_id, situation="Valable", rejection_code=None, stage="decided",
              force_majeure_at=RULED_AT)  # fmt: skip
    types = [e["type"] for e in client.get(f"/api/v1/claims/{claim_id}/events",
                                           headers=agent.headers).json()["events"]]  # fmt: skip
    # The Valable decision's payments are scheduled by the projector once it reads it (application/paying.py).
    life = [kind for kind in types if kind != "ClaimPaymentsScheduled"]
    assert life[-3:] == ["ClaimDecided", "ClaimForceMajeureGranted", "ClaimDecided"]
    # The live rules simulated again leave the agent's ruling standing: nothing changes for this claim.
    same = simulate(conn, claims_app, {"version": "ipe-2014.1-again"}, LOSS, LOSS)
    assert str(claim_id) not in {changed for changed, _, _ in same.changed}
    assert same.overall.claims >= 1
    refused = client.post(f"/api/v1/claims/{claim_id}/review", headers=agent.headers,
                          json={"force_majeure": True, "reason": "Encore"})  # fmt: skip
    assert refused.status_code == 409 and refused.json()["error"]["code"] == "not_rejected_late"
    unknown = client.post(f"/api/v1/claims/{uuid.uuid4()}/review", headers=agent.headers,
                          json={"force_majeure": True, "reason": "x"})  # fmt: skip
    assert unknown.status_code == 404


def test_force_majeure_is_refused_while_a_later_claim_of_the_insured_is_open(
    pipeline: Pipeline, client: TestClient, claims_app: ClaimsApplication, conn: psycopg.Connection[Any]
) -> None:
    insured = declare(conn, months=40, before=LOSS)
    late = submit(claims_app, insured, "licenciement_economique", filed_after_days=75)
    projected(conn, late, situation="Rejeté", rejection_code="filed_late", stage="decided")
    later = claims_app.submit(  # a second loss, filed while the first claim stood rejected: it waits in review
        uuid.uuid4(), filed_at=RULED_AT - timedelta(days=10), submitted_by="test", channel="http",
        affiliation_number=insured.affiliation_number, immatriculation=insured.immatriculation,
        cin=insured.cin, nom=insured.nom, prenoms=insured.prenoms, job_loss_date=LOSS + timedelta(days=80),
        motif_code="autre", attestation=True,
    ).id  # fmt: skip
    projected(conn, later, stage="review", situation="En cours")
    agent = user(client, conn, "agent")
    refused = client.post(f"/api/v1/claims/{late}/review", headers=agent.headers,
                          json={"force_majeure": True, "reason": "Hospitalisation"})  # fmt: skip
    assert refused.status_code == 409, refused.text
    assert refused.json()["error"]["code"] == "later_claim_open"
    assert refused.json()["error"]["field"] == "force_majeure"
    assert [d.decision.situation for d in claims_app.get_claim(late).decisions] == ["Rejeté"]
