"""A claim's whole life on the real pipeline (store, relay, broker, projector, read model, API): filed under
« Autre », it waits in review; an agent rules the loss involuntary and the rules decide it Valable; the agent
records every piece of the dossier, the RIB verified; six monthly runs, from the month after filing, pay it
exactly six times, a seventh pays nothing, and the employer reads six payments issued.

The claim lives years after the harness's ``TODAY`` (its own clock, declarations and months): the suite shares
one database, and a month's runs decide which file is that month's latest, so this test's runs must never
fall in a month another test pays (``test_payments`` pays the months after ``TODAY``), nor theirs in its."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import psycopg
import pytest
from fastapi.testclient import TestClient

from ipe_claims.adapters.payment_files import PostgresPaymentIndex
from ipe_claims.application.claims import ClaimsApplication
from ipe_claims.application.clock import FixedClock, SystemClock
from ipe_claims.application.paying import PaymentRun
from ipe_claims.domain.payments import month_of
from ipe_claims.domain.rib import rib_key
from ipe_claims.settings import Settings
from services.claim_intake.api import create_app
from tests.conftest import TODAY, declare, random_digits, wait_for
from tests.integration.conftest import Pipeline, no_server_error
from tests.integration.test_api import claim_body, user
from tests.integration.test_payments import FILES, months_after_filing

pytestmark = pytest.mark.integration
FILED_ON = TODAY + timedelta(days=5 * 365)  # months no other test pays, whatever IPE_TEST_TODAY says
CLOCK = SystemClock.living_on(FILED_ON)  # the API's: filing, ruling, decision and dossier on FILED_ON
LOSS = FILED_ON - timedelta(days=5)
FIRST = FILED_ON.replace(day=1)
MONTHS = [month_of((FIRST + timedelta(days=32 * k)).replace(day=1)) for k in range(1, 8)]  # six, and one more


@pytest.fixture
def client(settings: Settings, claims_app: ClaimsApplication, tmp_path: Path) -> Any:
    with TestClient(create_app(settings.changed(home=tmp_path), claims_app, CLOCK)) as test_client:
        test_client.event_hooks = {"request": [], "response": [no_server_error]}
        yield test_client


def read_model(conn: psycopg.Connection[Any], claim_id: str) -> tuple[Any, ...] | None:
    return conn.execute(
        "SELECT c.situation, c.stage, (SELECT count(*) FROM payments p WHERE p.claim_id = c.claim_id "
        "AND p.status = 'scheduled') FROM claims c WHERE c.claim_id = %s",
        (claim_id,),
    ).fetchone()


def run_month(settings: Settings, claims_app: ClaimsApplication, month: str) -> list[str]:
    """The month's run on the 5th of that month; the months it paid, of any claim, by claim id."""
    on = date.fromisoformat(f"{month}-05")
    clock = FixedClock(datetime(on.year, on.month, on.day, 9, tzinfo=UTC))
    with psycopg.connect(settings.database.url, autocommit=True) as own:
        result = PaymentRun(claims_app, PostgresPaymentIndex(own), FILES, clock)(month)
    return [f"{t.claim_id}:{t.month}" for t in result.transfers] if result.new else []


def test_a_claim_under_autre_is_reviewed_decided_completed_and_paid_six_times(
    pipeline: Pipeline, settings: Settings, client: TestClient, claims_app: ClaimsApplication,
    conn: psycopg.Connection[Any],
) -> None:  # fmt: skip
    assert not set(MONTHS) & set(months_after_filing(12)), "months another test pays"
    insured = declare(conn, months=40, before=LOSS)
    employer = user(client, conn, "employer", insured.affiliation_number).headers
    agent = user(client, conn, "agent").headers
    body = claim_body(insured, motif_code="autre", job_loss_date=LOSS.isoformat())
    filed = client.post("/api/v1/claims", json=body, headers=employer)
    assert filed.status_code == 201, filed.text
    claim_id = filed.json()["claim_id"]
    wait_for(lambda: read_model(conn, claim_id) == ("En cours", "review", 0) or None, what="the review stage")
    shown = client.get(f"/api/v1/claims/{claim_id}", headers=employer).json()
    assert (shown["situation"], shown["stage"]) == ("En cours", "review")

    ruled = client.post(f"/api/v1/claims/{claim_id}/review", headers=agent,
                        json={"involuntary": True, "reason": "Fermeture du site constatée par le PV"})  # fmt: skip
    assert ruled.status_code == 200, ruled.text
    assert (ruled.json()["situation"], ruled.json()["stage"]) == ("Valable", "decided")
    wait_for(lambda: read_model(conn, claim_id) == ("Valable", "decided", 6) or None, what="the six months")

    url = f"/api/v1/claims/{claim_id}/dossier"
    required = [piece["kind"] for piece in client.get(url, headers=agent).json()["required"]]
    assert "rib" in required
    digits = random_digits(22)
    for kind in required:
        fields = {"status": "verified"} | ({"rib": digits + rib_key(digits)} if kind == "rib" else {})
        recorded = client.post(f"{url}/{kind}", headers=agent, data=fields)
        assert recorded.status_code == 201, recorded.text
    assert client.get(url, headers=employer).json()["complete"] is True

    paid = [run_month(settings, claims_app, month) for month in MONTHS]
    ours = [[line for line in lines if line.startswith(claim_id)] for lines in paid]
    assert ours == [[f"{claim_id}:{month}"] for month in MONTHS[:6]] + [[]]
    version = claims_app.get_claim(uuid.UUID(claim_id)).version
    assert not [line for line in run_month(settings, claims_app, MONTHS[0]) if line.startswith(claim_id)]
    assert claims_app.get_claim(uuid.UUID(claim_id)).version == version  # a month run twice pays nobody twice

    items = client.get(f"/api/v1/claims/{claim_id}/payments", headers=employer).json()["items"]
    decision = claims_app.get_claim(uuid.UUID(claim_id)).decision
    assert decision is not None and decision.monthly_amount is not None
    assert [(i["month"], i["status"], i["amount"]) for i in items] == [
        (month, "issued", float(decision.monthly_amount)) for month in MONTHS[:6]
    ]
    assert [i["issued_on"] for i in items] == [f"{month}-05" for month in MONTHS[:6]]
    issued = "SELECT count(*) FROM payments WHERE claim_id = %s AND status = 'issued'"
    wait_for(
        lambda: conn.execute(issued, (claim_id,)).fetchone() == (6,) or None, what="six issued, projected"
    )
