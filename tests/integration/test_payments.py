"""Payments through the real store, relay, projector and read model: a Valable claim's six months, the
run (CLI) that pays complete dossiers only, once, in a pain.001 file valid against its schema, a return
to work after two payments, and who may read a claim's payments."""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from datetime import timedelta
from importlib.resources import files
from pathlib import Path
from typing import Any

import psycopg
import pytest
import xmlschema
from fastapi.testclient import TestClient

from ipe_claims.adapters.pain001 import Debtor, end_to_end_id
from ipe_claims.adapters.payment_files import Pain001Files, PostgresPaymentIndex
from ipe_claims.application.claims import ClaimsApplication
from ipe_claims.application.paying import PaymentRun
from ipe_claims.domain import dossier
from ipe_claims.domain.payments import month_of
from ipe_claims.domain.rib import parse_rib, rib_key
from ipe_claims.settings import Settings
from services.claim_intake.api import create_app
from tests.conftest import CLOCK, TODAY, days_ago, declare, random_digits, wait_for
from tests.integration.conftest import Pipeline
from tests.integration.test_api import user

pytestmark = pytest.mark.integration
LOSS = days_ago(5)
AGENT = {"agent": "agent.test", "agency": "CASA-01"}
FILES = Pain001Files(Debtor("CNSS", parse_rib("999999000000000000000014"), "DEMOMAM0XXX"))


def months_after_filing(count: int = 6) -> list[str]:
    first = TODAY.replace(day=1)
    return [month_of((first + timedelta(days=32 * k)).replace(day=1)) for k in range(1, count + 1)]


MONTHS = months_after_filing()


@pytest.fixture
def client(settings: Settings, claims_app: ClaimsApplication) -> Any:
    with TestClient(create_app(settings, claims_app, CLOCK)) as test_client:
        yield test_client


def payments(conn: psycopg.Connection[Any], claim_id: uuid.UUID) -> dict[str, str]:
    rows = conn.execute("SELECT month, status FROM payments WHERE claim_id = %s", (claim_id,)).fetchall()
    return dict(rows)


def scheduled_claim(app: ClaimsApplication, conn: psycopg.Connection[Any]) -> uuid.UUID:
    insured = declare(conn, months=40, before=LOSS)
    claim_id = app.submit(
        uuid.uuid4(), filed_at=CLOCK.now(), submitted_by="test", channel="http",
        affiliation_number=insured.affiliation_number, immatriculation=insured.immatriculation,
        cin=insured.cin, nom=insured.nom, prenoms=insured.prenoms, job_loss_date=LOSS,
        motif_code="licenciement_economique", attestation=True,
    ).id  # fmt: skip
    wait_for(lambda: len(payments(conn, claim_id)) == 6, what="the schedule projected")
    return claim_id


def complete_dossier(app: ClaimsApplication, claim_id: uuid.UUID) -> None:
    claim, digits = app.get_claim(claim_id), random_digits(22)
    for kind in (dossier.FORMULAIRE, dossier.CIN, dossier.PV_INSPECTION, dossier.ANAPEC):
        claim.record_document(kind, dossier.VERIFIED, **AGENT, at=CLOCK.now())
    claim.record_document(
        dossier.RIB, dossier.VERIFIED, **AGENT, at=CLOCK.now(), rib=digits + rib_key(digits)
    )
    app.save(claim)


def run_cli(settings: Settings, month: str, out: Path) -> str:
    env = os.environ | {"DATABASE_URL": settings.database.url}
    command = [sys.executable, "-m", "ipe_claims.entrypoints.cli", "payments", "run", "--month", month,
               "--out", str(out)]  # fmt: skip
    done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout


def test_a_valable_claim_gets_six_payments_from_the_month_after_filing(
    pipeline: Pipeline, client: TestClient, claims_app: ClaimsApplication, conn: psycopg.Connection[Any]
) -> None:
    claim_id = scheduled_claim(claims_app, conn)
    assert payments(conn, claim_id) == dict.fromkeys(MONTHS, "scheduled")
    claim = claims_app.get_claim(claim_id)
    employer = user(client, conn, "employer", claim.affiliation_number).headers
    listed = client.get(f"/api/v1/claims/{claim_id}/payments", headers=employer)
    assert listed.status_code == 200, listed.text
    items = listed.json()["items"]
    assert [i["month"] for i in items] == MONTHS and {i["status"] for i in items} == {"scheduled"}
    assert items[0]["amount"] == float(claim.decision.monthly_amount) and items[0]["issued_on"] is None  # type: ignore[union-attr]
    agent = user(client, conn, "agent").headers
    assert client.get(f"/api/v1/claims/{claim_id}/payments", headers=agent).json()["items"] == items
    stranger = user(client, conn, "employer", random_digits(7)).headers
    assert client.get(f"/api/v1/claims/{claim_id}/payments", headers=stranger).status_code == 404


def test_the_run_pays_complete_dossiers_once_in_a_valid_pain001_file(
    pipeline: Pipeline, settings: Settings, claims_app: ClaimsApplication, conn: psycopg.Connection[Any],
    tmp_path: Path,
) -> None:  # fmt: skip
    complete, incomplete = scheduled_claim(claims_app, conn), scheduled_claim(claims_app, conn)
    complete_dossier(claims_app, complete)

    said = run_cli(settings, MONTHS[0], tmp_path / "first.xml")
    first = (tmp_path / "first.xml").read_bytes()
    version = claims_app.get_claim(complete).version
    again = run_cli(settings, MONTHS[0], tmp_path / "again.xml")

    paid = end_to_end_id(complete, MONTHS[0]).encode()
    assert paid in first
    if "already issued" in again:  # nothing new was due: the same file, byte for byte
        assert (tmp_path / "again.xml").read_bytes() == first
    else:  # another test's claim became due meanwhile (the suite shares the month): a file of those only
        assert paid not in (tmp_path / "again.xml").read_bytes()
    assert claims_app.get_claim(complete).version == version  # nobody paid twice
    assert "issued" in said and "RIB" not in said
    xmlschema.XMLSchema(str(files("sepaxml") / "schemas" / "pain.001.001.09.xsd")).validate(first)
    line = claims_app.get_claim(complete).payments[MONTHS[0]]
    assert line.status == "issued" and line.file_id is not None and line.file_id.encode() in first
    assert claims_app.get_claim(incomplete).payments[MONTHS[0]].status == "scheduled"
    wait_for(lambda: payments(conn, complete)[MONTHS[0]] == "issued", what="the payment projected")


def test_a_return_to_work_after_two_payments_cancels_the_rest(
    pipeline: Pipeline, settings: Settings, client: TestClient, claims_app: ClaimsApplication,
    conn: psycopg.Connection[Any],
) -> None:  # fmt: skip
    claim_id = scheduled_claim(claims_app, conn)
    complete_dossier(claims_app, claim_id)
    for month in MONTHS[:2]:
        with psycopg.connect(settings.database.url, autocommit=True) as own:
            PaymentRun(claims_app, PostgresPaymentIndex(own), FILES, CLOCK)(month)
    employer = user(client, conn, "employer", claims_app.get_claim(claim_id).affiliation_number).headers
    # Back 75 days after the loss: entitlement months 1-3 have started and stay due in full.
    back = (LOSS + timedelta(days=75)).isoformat()
    declared = client.post(f"/api/v1/claims/{claim_id}/return-to-work", headers=employer,
                           json={"return_date": back})  # fmt: skip
    assert declared.status_code == 200, declared.text
    due = declared.json()["return_to_work"]["months_due"]
    expected = {
        m: "issued" if k < 2 else "scheduled" if k < due else "cancelled" for k, m in enumerate(MONTHS)
    }
    wait_for(lambda: payments(conn, claim_id) == expected, what="the months past the return cancelled")
