"""Through the real store and read model: a claim waits for a declaration still coming, is decided
when it arrives or when the wait expires, and a valid claim ends early on return to work."""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

import psycopg
import pytest
from fastapi.testclient import TestClient

from ipe_claims.adapters.declarations import load_rows
from ipe_claims.application.claims import ClaimsApplication
from ipe_claims.application.clock import FixedClock
from ipe_claims.domain.claim import OpenClaimExists
from ipe_claims.domain.contributions import months_before
from ipe_claims.settings import Settings
from services.claim_intake.api import create_app
from tests.conftest import Insured, declare, random_digits, wait_for
from tests.integration.conftest import Pipeline
from tests.integration.test_api import user

pytestmark = pytest.mark.integration
LOSS = date(2026, 10, 2)
SEPTEMBER = date(2026, 9, 1)


def submit(app: ClaimsApplication, insured: Insured, filed: datetime, loss: date = LOSS) -> uuid.UUID:
    return app.submit(
        uuid.uuid4(), filed_at=filed, submitted_by="test", channel="http",
        affiliation_number=insured.affiliation_number, immatriculation=insured.immatriculation,
        cin=insured.cin, nom=insured.nom, prenoms=insured.prenoms, job_loss_date=loss,
        motif_code="licenciement_economique", attestation=True,
    ).id  # fmt: skip


def row(conn: psycopg.Connection[Any], claim_id: uuid.UUID) -> tuple[Any, ...] | None:
    return conn.execute(
        "SELECT situation, rejection_code, awaiting_due, benefit_end_date, months_due FROM claims WHERE claim_id = %s",
        (claim_id,),
    ).fetchone()


def waiting_claim(
    pipeline: Pipeline, app: ClaimsApplication, conn: psycopg.Connection[Any]
) -> tuple[Insured, uuid.UUID]:
    """An insured with exactly 260 days in the 12 months before the loss only once September counts."""
    insured = declare(conn, months=9, before=SEPTEMBER)  # Dec 2025 … Aug 2026: 9 × 26 days
    earlier = months_before(date(2025, 10, 1), 27)  # Jul 2023 … Sep 2025: none in the last 12 months
    load_rows(conn, [(insured.affiliation_number, insured.immatriculation, insured.cin, insured.nom,
                      insured.prenoms, month, 26, Decimal("4000.00")) for month in earlier])  # fmt: skip
    claim_id = submit(app, insured, datetime(2026, 10, 5, 9, tzinfo=UTC))
    wait_for(
        lambda: ((r := row(conn, claim_id)) and r[2] is not None) or None, what="the wait in the read model"
    )
    return insured, claim_id


def test_a_claim_waits_for_the_declaration_still_coming_and_is_decided_when_it_arrives(
    pipeline: Pipeline, claims_app: ClaimsApplication, conn: psycopg.Connection[Any]
) -> None:
    insured, claim_id = waiting_claim(pipeline, claims_app, conn)
    assert row(conn, claim_id)[:3] == ("En cours", None, date(2026, 10, 10))
    assert pipeline.projector.sweep(conn, date(2026, 10, 8)) == 0  # nothing arrived, not yet due
    assert claims_app.get_claim(claim_id).decision is None
    load_rows(conn, [(insured.affiliation_number, insured.immatriculation, insured.cin, insured.nom,
                      insured.prenoms, SEPTEMBER, 26, Decimal("4000.00"))])  # fmt: skip
    pipeline.projector.sweep(conn, date(2026, 10, 8))
    decision = claims_app.get_claim(claim_id).decision
    assert decision is not None and decision.situation == "Valable" and decision.days_12 == 260
    wait_for(
        lambda: ((r := row(conn, claim_id)) and r[0] == "Valable" and r[2] is None) or None, what="projection"
    )


def test_an_expired_wait_enters_the_log_and_the_claim_is_decided_without_the_month(
    pipeline: Pipeline, claims_app: ClaimsApplication, conn: psycopg.Connection[Any]
) -> None:
    _, claim_id = waiting_claim(pipeline, claims_app, conn)
    pipeline.projector.sweep(conn, date(2026, 10, 11))
    claim = claims_app.get_claim(claim_id)
    assert claim.decision is not None and claim.decision.rejection_code == "insufficient_days_12"
    topics = [t for (t,) in conn.execute(
        "SELECT topic FROM ipe_events WHERE originator_id = %s ORDER BY originator_version", (claim_id,)
    )]  # fmt: skip
    assert [t.rsplit(".", 1)[-1] for t in topics] == [
        "Submitted", "AwaitingDeclaration", "DeclarationWaitExpired", "Decided",
    ]  # fmt: skip
    wait_for(
        lambda: ((r := row(conn, claim_id)) and r[0] == "Rejeté") or None, what="the rejection projected"
    )


@pytest.fixture
def client(settings: Settings, claims_app: ClaimsApplication) -> Any:
    """The API on the day the employers of these stories declare a return to work (3 December 2026)."""
    clock = FixedClock(datetime(2026, 12, 3, 10, tzinfo=UTC))
    with TestClient(create_app(settings, claims_app, clock)) as test_client:
        yield test_client


def valid_claim(claims_app: ClaimsApplication, conn: psycopg.Connection[Any]) -> tuple[Insured, uuid.UUID]:
    """A claim filed in time by an insured with a full career, once decided Valable."""
    insured = declare(conn, months=40, before=LOSS)
    claim_id = submit(claims_app, insured, datetime(2026, 10, 12, 9, tzinfo=UTC))
    wait_for(lambda: ((r := row(conn, claim_id)) and r[0] == "Valable") or None, what="the decision")
    return insured, claim_id


def test_return_to_work_ends_the_benefit_and_frees_the_insured_for_a_new_claim(
    pipeline: Pipeline, client: TestClient, claims_app: ClaimsApplication, conn: psycopg.Connection[Any]
) -> None:
    insured, claim_id = valid_claim(claims_app, conn)
    employer = user(client, conn, "employer", insured.affiliation_number).headers
    auditor = user(client, conn, "auditor").headers

    explained = client.get(f"/api/v1/claims/{claim_id}/decision", headers=employer).json()
    assert [r["passed"] for r in explained["rules"]] == [True] * 5 and "figures" not in explained["rules"][0]
    assert "reference_salary" not in explained and explained["monthly_amount"] == 2800
    audited = client.get(f"/api/v1/claims/{claim_id}/decision", headers=auditor).json()
    assert audited["reference_salary"] == 4000 and audited["days_36"] == 936
    assert audited["rules"][3]["figures"]["declared_days"] == "936"
    logged = conn.execute("SELECT role FROM access_log WHERE claim_id = %s AND action = 'claim.decision' "
                          "ORDER BY role", (str(claim_id),)).fetchall()  # fmt: skip
    assert logged == [("auditor",), ("employer",)]  # who read the decision, and when, is on record

    bad = client.post(
        f"/api/v1/claims/{claim_id}/return-to-work", headers=employer, json={"return_date": "2026-09-30"}
    )
    assert bad.status_code == 422 and bad.json()["error"]["code"] == "invalid_return_to_work"
    ok = client.post(
        f"/api/v1/claims/{claim_id}/return-to-work", headers=employer, json={"return_date": "2026-12-01"}
    )
    assert ok.status_code == 200, ok.text
    assert ok.json()["return_to_work"] == {"return_date": "2026-12-01", "benefit_end": "2026-11-30",
                                           "months_due": 2, "late_notice": False}  # fmt: skip
    again = client.post(
        f"/api/v1/claims/{claim_id}/return-to-work", headers=employer, json={"return_date": "2026-12-01"}
    )
    assert again.status_code == 200 and again.json() == ok.json()  # a retry records nothing new
    assert client.post(f"/api/v1/claims/{claim_id}/return-to-work", headers=auditor,
                       json={"return_date": "2026-12-01"}).status_code == 403  # fmt: skip
    wait_for(
        lambda: ((r := row(conn, claim_id)) and r[3:] == (date(2026, 11, 30), 2)) or None, what="projection"
    )

    with pytest.raises(OpenClaimExists):
        submit(claims_app, insured, datetime(2026, 11, 20, 9, tzinfo=UTC), loss=date(2026, 11, 19))
    assert submit(claims_app, insured, datetime(2026, 12, 20, 9, tzinfo=UTC), loss=date(2026, 12, 18))


def test_an_employer_cannot_read_or_end_another_employers_claim(
    pipeline: Pipeline, client: TestClient, claims_app: ClaimsApplication, conn: psycopg.Connection[Any]
) -> None:
    insured = declare(conn, months=40, before=LOSS)
    claim_id = submit(claims_app, insured, datetime(2026, 10, 12, 9, tzinfo=UTC))
    wait_for(lambda: row(conn, claim_id), what="the claim projected")
    stranger = user(client, conn, "employer", random_digits(7)).headers
    assert client.get(f"/api/v1/claims/{claim_id}/decision", headers=stranger).status_code == 404
    response = client.post(
        f"/api/v1/claims/{claim_id}/return-to-work", headers=stranger, json={"return_date": "2026-12-01"}
    )
    assert response.status_code == 404


def test_the_cli_records_a_return_to_work_and_refuses_a_bad_one(
    pipeline: Pipeline, settings: Settings, claims_app: ClaimsApplication, conn: psycopg.Connection[Any]
) -> None:
    _, claim_id = valid_claim(claims_app, conn)
    env = os.environ | {"DATABASE_URL": settings.database.url}
    command = [sys.executable, "-m", "ipe_claims.entrypoints.cli", "claims", "return-to-work", str(claim_id)]
    late = subprocess.run([*command, "--date", "2027-01-05", "--declared-on", "2027-01-20"], env=env,
                          capture_output=True, text=True, timeout=60)  # fmt: skip
    assert late.returncode == 0, late.stdout + late.stderr
    assert "4 month(s) due (declared late)" in late.stdout
    refused = subprocess.run(
        [*command, "--date", "2027-02-01"], env=env, capture_output=True, text=True, timeout=60
    )
    assert refused.returncode == 1 and "already recorded" in refused.stdout
    returned = claims_app.get_claim(claim_id).returned
    assert returned is not None and (returned.months_due, returned.late_notice) == (4, True)
