"""A claim accepted after its dossier's first deadline (loss + 60, filing + 30) on the real pipeline: an
agent rules on its « Autre » motif late, the worker has 30 days after that decision. The read model's
deadline moves with the decision, the projector's sweep leaves the claim alone until then and ends it
after; the API names the new date; the live dossier row equals the replay's rebuild, also when opened
from the ``claims`` row (a claim filed before migration 078)."""

from __future__ import annotations

import uuid
from datetime import date, timedelta
from typing import Any

import psycopg
import pytest
from fastapi.testclient import TestClient

from ipe_claims.application.claims import ClaimsApplication
from ipe_claims.application.clock import FixedClock
from ipe_claims.settings import Settings
from services.claim_intake.api import create_app
from services.eligibility_projector.projector import EligibilityProjector
from tests.conftest import declare, wait_for
from tests.integration.conftest import Pipeline
from tests.integration.test_api import user
from tests.integration.test_replay_dossier import at_day, dossier_differences, row
from tests.integration.test_review import LOSS, RULED_AT, projected, submit

pytestmark = pytest.mark.integration
FIRST_DEADLINE = LOSS + timedelta(days=60)  # 01/12/2026: passed when the agent rules, on 11/01/2027
DEADLINE = date(2027, 2, 10)  # 30 days after the ruling and the Valable decision it leads to


@pytest.fixture
def client(settings: Settings, claims_app: ClaimsApplication) -> Any:
    with TestClient(create_app(settings, claims_app, FixedClock(RULED_AT))) as test_client:
        yield test_client


def accepted_late(
    client: TestClient, claims_app: ClaimsApplication, conn: psycopg.Connection[Any]
) -> uuid.UUID:
    """An « Autre » claim filed 10 days after the loss, ruled involuntary (so Valable) at RULED_AT."""
    insured = declare(conn, months=40, before=LOSS)
    claim_id = submit(claims_app, insured, "autre", filed_after_days=10)
    projected(conn, claim_id, stage="review")
    agent = user(client, conn, "agent")
    ruled = client.post(f"/api/v1/claims/{claim_id}/review", headers=agent.headers,
                        json={"involuntary": True, "reason": "PV : fermeture du chantier"})  # fmt: skip
    assert ruled.status_code == 200 and ruled.json()["situation"] == "Valable", ruled.text
    return claim_id


def dossier_row(conn: psycopg.Connection[Any], claim_id: uuid.UUID) -> tuple[Any, ...] | None:
    return conn.execute(
        "SELECT deadline, valable_on, expired_on FROM dossiers WHERE claim_id = %s", (claim_id,)
    ).fetchone()


def test_a_claim_ruled_after_its_first_deadline_expires_only_30_days_after_the_ruling(
    pipeline: Pipeline, client: TestClient, claims_app: ClaimsApplication, conn: psycopg.Connection[Any]
) -> None:
    claim_id = accepted_late(client, claims_app, conn)
    assert claims_app.get_claim(claim_id).dossier_deadline == DEADLINE
    wait_for(
        lambda: dossier_row(conn, claim_id) == (DEADLINE, RULED_AT.date(), None),
        what="the deadline moved by the Valable decision in the read model",
    )
    agent = user(client, conn, "agent")
    shown = client.get(f"/api/v1/claims/{claim_id}/dossier", headers=agent.headers).json()
    assert shown["deadline"] == DEADLINE.isoformat() and shown["complete"] is False

    EligibilityProjector(
        claims_app, pipeline.codec, at_day(RULED_AT.date() + timedelta(days=1))
    ).expire_dossiers(conn)  # the day after the ruling: past loss + 60, within the 30 days
    assert claims_app.get_claim(claim_id).situation == "Valable"
    EligibilityProjector(claims_app, pipeline.codec, at_day(DEADLINE)).expire_dossiers(conn)
    assert claims_app.get_claim(claim_id).situation == "Valable"  # its last day

    EligibilityProjector(claims_app, pipeline.codec, at_day(DEADLINE + timedelta(days=1))).expire_dossiers(
        conn
    )
    claim = claims_app.get_claim(claim_id)
    assert claim.decision is not None and claim.decision.rejection_code == "dossier_incomplete"
    assert claim.dossier_expired_on == DEADLINE and claim.dossier_deadline == DEADLINE
    wait_for(
        lambda: dossier_row(conn, claim_id) == (DEADLINE, RULED_AT.date(), DEADLINE),
        what="the expiry in the read model, its deadline kept",
    )
    assert dossier_differences(conn, claims_app, [claim_id]) == []


def test_a_late_acceptance_is_rebuilt_by_the_replay_and_when_opened_from_the_claims_row(
    pipeline: Pipeline, client: TestClient, claims_app: ClaimsApplication, conn: psycopg.Connection[Any]
) -> None:
    claim_id = accepted_late(client, claims_app, conn)
    wait_for(
        lambda: dossier_row(conn, claim_id) == (DEADLINE, RULED_AT.date(), None), what="the moved deadline"
    )
    live = row(conn, claim_id)
    assert dossier_differences(conn, claims_app, [claim_id]) == []

    conn.execute("DELETE FROM dossiers WHERE claim_id = %s", (claim_id,))  # as if filed before 078
    assert EligibilityProjector(claims_app, pipeline.codec, at_day(RULED_AT.date())).open_dossiers(conn) >= 1
    assert row(conn, claim_id) == live
    assert dossier_differences(conn, claims_app, [claim_id]) == []
    assert FIRST_DEADLINE < RULED_AT.date() < DEADLINE
