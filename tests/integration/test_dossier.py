"""The dossier through the real store, read model and API: an agent records pieces (multipart) until it is
complete; the employer sees only which pieces are missing; a dossier still incomplete after its deadline
ends the claim Rejeté "dossier incomplet" at the projector's sweep."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import psycopg
import pytest
from fastapi.testclient import TestClient

from ipe_claims.adapters import contacts
from ipe_claims.application.claims import ClaimsApplication
from ipe_claims.application.clock import FixedClock
from ipe_claims.domain.rib import rib_key
from ipe_claims.settings import Settings
from services.claim_intake.api import create_app
from services.eligibility_projector.projector import EligibilityProjector
from tests.conftest import CLOCK, TODAY, Insured, declare, wait_for
from tests.integration.conftest import Pipeline, no_server_error
from tests.integration.test_api import user

pytestmark = pytest.mark.integration
PIECES = ["formulaire_demande", "copie_cin", "pv_inspection_travail", "rib", "attestation_anapec"]
RIB_22 = "0117800000123456789012"
RIB = RIB_22 + rib_key(RIB_22)
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64


@pytest.fixture
def client(settings: Settings, claims_app: ClaimsApplication, tmp_path: Path) -> Any:
    with TestClient(create_app(settings.changed(home=tmp_path), claims_app, CLOCK)) as test_client:
        test_client.event_hooks = {"request": [], "response": [no_server_error]}
        yield test_client


def valid_claim(
    claims_app: ClaimsApplication,
    conn: psycopg.Connection[Any],
    *,
    loss: date | None = None,
    email: bool = False,
) -> tuple[Insured, uuid.UUID]:
    """A Valable claim filed yesterday for a loss 10 days ago (or ``loss``), its dossier row in the read model;
    with ``email``, its worker has an address, so every message about the claim is stored and queued."""
    loss = TODAY - timedelta(days=10) if loss is None else loss
    insured = declare(conn, months=40, before=loss)
    if email:
        contacts.load(conn, [contacts.Contact(insured.immatriculation, f"w{insured.immatriculation}@example.ma",
                                              None, "fr")])  # fmt: skip
    claim_id = claims_app.submit(
        uuid.uuid4(), filed_at=CLOCK.now() - timedelta(days=1), submitted_by="test", channel="http",
        affiliation_number=insured.affiliation_number, immatriculation=insured.immatriculation,
        cin=insured.cin, nom=insured.nom, prenoms=insured.prenoms, job_loss_date=loss,
        motif_code="licenciement_economique", attestation=True,
    ).id  # fmt: skip
    wait_for(
        lambda: conn.execute(
            "SELECT 1 FROM claims c JOIN dossiers d USING (claim_id) WHERE claim_id = %s AND situation = 'Valable'",
            (claim_id,),
        ).fetchone(),
        what="the decision and the dossier in the read model",
    )
    return insured, claim_id


def test_an_agent_records_pieces_until_complete_and_the_employer_sees_only_where_they_stand(
    pipeline: Pipeline, client: TestClient, claims_app: ClaimsApplication, conn: psycopg.Connection[Any]
) -> None:
    insured, claim_id = valid_claim(claims_app, conn)
    agent = user(client, conn, "agent").headers
    employer = user(client, conn, "employer", insured.affiliation_number).headers
    url = f"/api/v1/claims/{claim_id}/dossier"

    before = client.get(url, headers=employer).json()
    assert [p["kind"] for p in before["required"]] == PIECES and before["complete"] is False
    assert {p["status"] for p in before["required"]} == {"missing"}

    bad = client.post(f"{url}/copie_cin", headers=agent, data={"status": "received"},
                      files={"file": ("cin.pdf", b"MZ\x90\x00 not a scan", "application/pdf")})  # fmt: skip
    assert bad.status_code == 415 and bad.json()["error"]["code"] == "scan_type_refused"
    wrong = client.post(f"{url}/rib", headers=agent, data={"status": "verified", "rib": RIB[:-1] + "0"})
    assert wrong.status_code == 422 and wrong.json()["error"]["field"] == "rib"
    assert RIB[:-1] not in wrong.text
    refused = client.post(f"{url}/copie_cin", headers=employer, data={"status": "verified"})
    assert refused.status_code == 403

    for kind in PIECES:
        fields = {"status": "verified"} | ({"rib": RIB} if kind == "rib" else {})
        files = {"file": ("cin.png", PNG, "image/png")} if kind == "copie_cin" else None
        answer = client.post(f"{url}/{kind}", headers=agent, data=fields, files=files)
        assert answer.status_code == 201, answer.text
    full = client.get(url, headers=agent).json()
    assert full["complete"] is True
    cin = next(p for p in full["required"] if p["kind"] == "copie_cin")
    assert cin["sha256"] and len(cin["sha256"]) == 64 and cin["agency"] == "CASA-01"

    seen = client.get(url, headers=employer)
    assert seen.json()["complete"] is True and RIB not in seen.text
    assert all(set(p) == {"kind", "label_fr", "label_ar", "status"} for p in seen.json()["required"])
    wait_for(
        lambda: conn.execute(
            "SELECT 1 FROM dossiers WHERE claim_id = %s AND complete", (claim_id,)
        ).fetchone(),
        what="the complete dossier in the read model",
    )
    kinds = conn.execute(
        "SELECT count(*) FROM dossier_documents WHERE claim_id = %s AND status = 'verified'", (claim_id,)
    ).fetchone()
    assert kinds is not None and kinds[0] == len(PIECES)


def test_a_dossier_incomplete_after_its_deadline_ends_the_claim_at_the_sweep(
    pipeline: Pipeline, claims_app: ClaimsApplication, conn: psycopg.Connection[Any]
) -> None:
    _, claim_id = valid_claim(claims_app, conn)
    deadline = claims_app.get_claim(claim_id).dossier_deadline
    on_time = EligibilityProjector(claims_app, pipeline.codec, FixedClock(datetime.combine(deadline, datetime.min.time(), UTC) + timedelta(hours=12)))  # fmt: skip
    assert on_time.expire_dossiers(conn) == 0 or claims_app.get_claim(claim_id).situation == "Valable"
    later = FixedClock(
        datetime.combine(deadline + timedelta(days=1), datetime.min.time(), UTC) + timedelta(hours=12)
    )
    EligibilityProjector(claims_app, pipeline.codec, later).expire_dossiers(conn)

    claim = claims_app.get_claim(claim_id)
    assert claim.decision is not None and claim.decision.situation == "Rejeté"
    assert claim.decision.rejection_code == "dossier_incomplete"
    wait_for(
        lambda: conn.execute(
            "SELECT 1 FROM claims c JOIN dossiers d USING (claim_id) WHERE claim_id = %s AND situation = 'Rejeté' "
            "AND rejection_reason LIKE 'Dossier incomplet%%' AND d.expired_on = %s",
            (claim_id, deadline),
        ).fetchone(),
        what="the rejection and the expiry in the read model",
    )
