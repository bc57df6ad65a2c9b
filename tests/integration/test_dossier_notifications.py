"""The worker hears of the pieces their dossier needs through the real pipeline (store → relay → Kafka →
notifier): the acceptance lists them, and a piece an agent refuses through the API reaches the worker's
delivery log with the reason, which the employer's list of notifications never shows."""

from __future__ import annotations

import uuid
from datetime import timedelta
from pathlib import Path
from typing import Any

import psycopg
import pytest
from fastapi.testclient import TestClient

from ipe_claims.application.claims import ClaimsApplication
from ipe_claims.domain import dossier
from ipe_claims.settings import Settings
from services.claim_intake.api import create_app
from tests.conftest import CLOCK, TODAY, wait_for
from tests.integration.conftest import Pipeline, no_server_error
from tests.integration.test_api import user
from tests.integration.test_dossier import valid_claim

pytestmark = pytest.mark.integration
REASON = "Copie illisible, recto seulement"


@pytest.fixture
def client(settings: Settings, claims_app: ClaimsApplication, tmp_path: Path) -> Any:
    with TestClient(create_app(settings.changed(home=tmp_path), claims_app, CLOCK)) as test_client:
        test_client.event_hooks = {"request": [], "response": [no_server_error]}
        yield test_client


def texts(conn: psycopg.Connection[Any], claim_id: uuid.UUID, kind: str) -> tuple[Any, ...] | None:
    """The message of ``kind`` stored for the claim, once its email delivery is in the log."""
    return conn.execute(
        "SELECT n.subject_fr, n.body_fr, n.subject_ar, n.body_ar FROM notifications n JOIN deliveries d "
        "USING (event_id) WHERE n.claim_id = %s AND n.kind = %s AND d.channel = 'email'",
        (claim_id, kind),
    ).fetchone()


def test_a_refused_piece_reaches_the_workers_delivery_log_and_not_the_employers_eyes(
    pipeline: Pipeline, client: TestClient, claims_app: ClaimsApplication, conn: psycopg.Connection[Any]
) -> None:
    insured, claim_id = valid_claim(claims_app, conn, email=True)
    deadline = (TODAY - timedelta(days=10) + timedelta(days=60)).strftime("%d/%m/%Y")
    cin_fr, cin_ar = next(
        (r.label_fr, r.label_ar) for r in dossier.DOSSIER_RULES[-1].documents if r.kind == dossier.CIN
    )

    valid = wait_for(lambda: texts(conn, claim_id, "valid"), what="the acceptance in the delivery log")
    assert deadline in valid[0] and f"- {cin_fr}" in valid[1] and f"- {cin_ar}" in valid[3]

    agent = user(client, conn, "agent").headers
    answer = client.post(f"/api/v1/claims/{claim_id}/dossier/copie_cin", headers=agent,
                         data={"status": "refused", "reason": REASON})  # fmt: skip
    assert answer.status_code == 201, answer.text

    subject_fr, body_fr, subject_ar, body_ar = wait_for(
        lambda: texts(conn, claim_id, "dossier_piece_refused"), what="the refusal in the delivery log"
    )
    assert subject_fr.endswith(cin_fr) and cin_ar in subject_ar
    assert f"Motif du refus : {REASON}" in body_fr and REASON in body_ar
    assert f"- {cin_fr} (refusée" in body_fr and deadline in body_fr and deadline in body_ar
    (row,) = conn.execute(
        "SELECT channel, status FROM deliveries WHERE claim_id = %s AND kind = 'dossier_piece_refused'",
        (claim_id,),
    ).fetchall()
    assert row == ("email", "pending")  # waiting for a sender: this pipeline has none

    employer = user(client, conn, "employer", insured.affiliation_number).headers
    listed = client.get(f"/api/v1/claims/{claim_id}/notifications", headers=employer)
    assert [m["kind"] for m in listed.json()] == ["deposited", "valid", "dossier_piece_refused"]
    assert REASON not in listed.text and "illisible" not in listed.text
