"""Policy simulation over real claims: the live rules change nothing; a lower threshold turns exactly
the claims it should, and the report and its HTML say so."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import psycopg
import pytest

from ipe_claims.adapters.declarations import load_rows
from ipe_claims.analytics.simulation import simulate
from ipe_claims.application.claims import ClaimsApplication
from ipe_claims.domain.contributions import months_before
from ipe_claims.entrypoints.cli.simulate import render_html
from tests.conftest import declare, wait_for
from tests.integration.conftest import Pipeline

pytestmark = pytest.mark.integration
LOSS = date(2019, 3, 15)  # a period no other test uses


def claim_with(
    conn: psycopg.Connection[Any], app: ClaimsApplication, old_months: int, recent_months: int
) -> uuid.UUID:
    """Declared 26 days in each of ``recent_months`` of the last 12 and ``old_months`` of the 24 before."""
    window = months_before(LOSS, 36)
    insured = declare(conn, months=recent_months, before=LOSS)
    load_rows(conn, [(insured.affiliation_number, insured.immatriculation, insured.cin, insured.nom, insured.prenoms,
                      month, 26, Decimal("3000.00")) for month in window[24 - old_months : 24]])  # fmt: skip
    return app.submit(
        uuid.uuid4(), filed_at=datetime(2019, 3, 20, 10, tzinfo=UTC), submitted_by="t", channel="http",
        affiliation_number=insured.affiliation_number, immatriculation=insured.immatriculation, cin=insured.cin,
        nom=insured.nom, prenoms=insured.prenoms, job_loss_date=LOSS, motif_code="licenciement", attestation=True,
    ).id  # fmt: skip


def test_simulation(
    pipeline: Pipeline, claims_app: ClaimsApplication, conn: psycopg.Connection[Any], tmp_path: Path
) -> None:
    valid = claim_with(conn, claims_app, 24, 12)  # 936 days: valid either way
    turned = claim_with(conn, claims_app, 18, 9)  # 702 and 234 days: rejected now, valid at 636/212
    rejected = claim_with(conn, claims_app, 10, 6)  # 416 and 156: rejected either way
    for claim_id in (valid, turned, rejected):
        wait_for(lambda claim_id=claim_id: claims_app.get_claim(claim_id).decision, what="the decisions")
    wait_for(lambda: conn.execute("SELECT count(*) FROM claims WHERE job_loss_date = %s AND situation <> 'En cours'",
                                  (LOSS,)).fetchone()[0] == 3 or None, what="the read model")  # fmt: skip
    period = (date(2019, 3, 1), date(2019, 3, 31))

    same = simulate(conn, claims_app, {"version": "ipe-2014.1"}, *period)
    assert (same.overall.claims, same.changed, same.overall.total_difference) == (3, [], Decimal(0))

    scenario = simulate(
        conn, claims_app, {"version": "cgem-2021", "min_days_36": 636, "min_days_12": 212}, *period
    )
    assert scenario.changed == [(str(turned), "Rejeté", "Valable")]
    assert (scenario.overall.to_valable, scenario.overall.to_rejete) == (1, 0)
    # reference = (9 × 4 000 + 18 × 3 000) / 36 = 2 500.00 → 70 % = 1 750.00 a month, for 6 months
    assert scenario.overall.total_difference == Decimal("10500.00")
    assert scenario.by_month["2019-03"].to_valable == 1 and scenario.by_motif["licenciement"].claims == 3
    html = render_html(scenario)
    assert "cgem-2021" in html and "<svg" in html and "10500.00" in html
    assert claims_app.get_claim(turned).decision.situation == "Rejeté"  # nothing written
