"""``ipe review`` against the harness's database: the same ``Reviewer`` as the API, as the agent an account
of role ``agent`` names (its agency from the accounts table), the operator in the access log; a refusal
exits non-zero with the domain's code."""

from __future__ import annotations

import json
import uuid
from datetime import timedelta
from typing import Any

import psycopg
import pytest

from ipe_claims.adapters.accounts import create_account
from ipe_claims.application.claims import ClaimsApplication
from ipe_claims.settings import Settings
from tests.conftest import CLOCK, TODAY, declare, random_digits
from tests.integration.audit_helpers import run_cli

pytestmark = pytest.mark.integration
LOSS = TODAY - timedelta(days=30)


def account(conn: psycopg.Connection[Any], role: str) -> str:
    username = f"{role}-{random_digits(9)}"
    create_account(conn, username, "correct horse battery", role, [], "CASA-01" if role == "agent" else None)
    return username


def claim_in_review(conn: psycopg.Connection[Any], app: ClaimsApplication) -> uuid.UUID:
    insured = declare(conn, months=40, before=LOSS)
    return app.submit(
        uuid.uuid4(), filed_at=CLOCK.now(), submitted_by="test", channel="http",
        affiliation_number=insured.affiliation_number, immatriculation=insured.immatriculation,
        cin=insured.cin, nom=insured.nom, prenoms=insured.prenoms, job_loss_date=LOSS, motif_code="autre",
        attestation=True,
    ).id  # fmt: skip


def test_an_agent_rules_on_a_motif_from_the_command_line(
    settings: Settings, claims_app: ClaimsApplication, conn: psycopg.Connection[Any]
) -> None:
    claim_id, agent = claim_in_review(conn, claims_app), account(conn, "agent")
    ruled = run_cli(settings, "review", "motif", str(claim_id), "--involuntary", "--reason", "Fermeture du site",
                    "--agent", agent, "--json")  # fmt: skip
    assert ruled.exit_code == 0, ruled.output
    outcome = json.loads(ruled.output)
    assert float(outcome.pop("monthly_amount")) > 0
    assert outcome == {"claim_id": str(claim_id), "situation": "Valable", "stage": "decided", "rejection_code": None,
                       "rejection_reason_fr": None}  # fmt: skip
    claim = claims_app.get_claim(claim_id)
    assert claim.review is not None and (claim.review.agent, claim.review.agency) == (agent, "CASA-01")
    assert claim.review.ruled_at == claim.decided_at and claim.review.involuntary is True
    logged = conn.execute("SELECT role, host IS NOT NULL, agency FROM access_log WHERE claim_id = %s "
                          "AND action = 'claim.review'", (str(claim_id),)).fetchall()  # fmt: skip
    assert logged == [("operator", True, None)]

    again = run_cli(
        settings, "review", "motif", str(claim_id), "--voluntary", "--reason", "Erreur", "--agent", agent
    )
    assert again.exit_code == 1 and "Refused (claim_already_decided)" in again.output
    late = run_cli(settings, "review", "force-majeure", str(claim_id), "--reason", "Hospitalisation",
                   "--agent", agent, "--json")  # fmt: skip
    assert late.exit_code == 1 and json.loads(late.output)["error"]["code"] == "not_rejected_late"
    after = claims_app.get_claim(claim_id)  # no other ruling (a running projector may schedule payments)
    assert (after.review, after.force_majeure, len(after.decisions)) == (claim.review, None, 1)

    voluntary = claim_in_review(conn, claims_app)
    said = run_cli(
        settings, "review", "motif", str(voluntary), "--voluntary", "--reason", "Démission", "--agent", agent
    )
    assert said.exit_code == 0, said.output
    assert said.output.startswith(f"Demande {voluntary} : Rejeté (décidée). Motif du rejet : ")
    assert "Démission" in said.output


def test_only_an_agents_account_may_rule(
    settings: Settings, claims_app: ClaimsApplication, conn: psycopg.Connection[Any]
) -> None:
    claim_id = claim_in_review(conn, claims_app)
    for who in (account(conn, "auditor"), f"nobody-{random_digits(9)}"):
        refused = run_cli(settings, "review", "motif", str(claim_id), "--involuntary", "--reason", "PV",
                          "--agent", who)  # fmt: skip
        assert refused.exit_code == 1 and "Refused (not_an_agent)" in refused.output
    unknown = run_cli(settings, "review", "motif", str(uuid.uuid4()), "--involuntary", "--reason", "PV",
                      "--agent", account(conn, "agent"))  # fmt: skip
    assert unknown.exit_code == 1 and "Refused (not_found)" in unknown.output
    assert claims_app.get_claim(claim_id).review is None
