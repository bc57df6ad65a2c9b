"""Policy simulation over real claims: the live rules change nothing; a lower threshold turns exactly
the claims it should, and the report and its HTML say so; dividing the reference salary by the months
declared raises what a claim with gaps costs; a return to work counts its months due, as in the report."""

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
from ipe_claims.analytics.simulation_html import render_html
from ipe_claims.application.claims import ClaimsApplication
from ipe_claims.application.clock import FixedClock
from ipe_claims.application.returning import RecordReturnToWork
from ipe_claims.domain.contributions import months_before
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
    returned = claim_with(conn, claims_app, 21, 12)  # 33 months declared, 858 days: valid either way
    for claim_id in (valid, turned, rejected, returned):
        wait_for(lambda claim_id=claim_id: claims_app.get_claim(claim_id).decision, what="the decisions")
    RecordReturnToWork(claims_app, FixedClock(datetime(2019, 5, 21, 9, tzinfo=UTC)))(
        returned, date(2019, 5, 20), "t"
    )  # in the third month of entitlement: 3 months due
    wait_for(lambda: conn.execute("SELECT count(*) FROM claims WHERE job_loss_date = %s AND situation <> 'En cours'",
                                  (LOSS,)).fetchone()[0] == 4 or None, what="the read model")  # fmt: skip
    wait_for(lambda: conn.execute("SELECT months_due FROM claims WHERE claim_id = %s",
                                  (returned,)).fetchone()[0] == 3 or None, what="the return")  # fmt: skip
    period = (date(2019, 3, 1), date(2019, 3, 31))

    same = simulate(conn, claims_app, {"version": "ipe-2014.1"}, *period)
    assert (same.overall.claims, same.changed, same.overall.total_difference) == (4, [], Decimal(0))
    reported = conn.execute(
        "SELECT sum(total_amount), sum(monthly_amount) FROM analytics.claim_facts WHERE job_loss_date = %s",
        (LOSS,),
    ).fetchone()
    # the report's cost, from the same claims: the returned claim counts 3 months, not 6
    assert (same.overall.total_live, same.overall.monthly_live) == reported
    # (12 × 4 000 + 21 × 3 000) / 36 = 3 083.33 → 2 158.33 a month; (12 × 4 000 + 24 × 3 000) / 36 → 2 333.33
    assert same.overall.total_live == Decimal("2158.33") * 3 + Decimal("2333.33") * 6

    declared = simulate(
        conn, claims_app, {"version": "declared-months", "reference_divisor": "months_declared"}, *period
    )
    assert declared.changed == [] and declared.overall.total_live == same.overall.total_live
    # 111 000 / 33 = 3 363.64 → 2 354.55 a month for the claim with gaps; the full history is unchanged
    assert declared.overall.monthly_alternative - declared.overall.monthly_live == Decimal("196.22")
    assert declared.overall.total_difference == Decimal("196.22") * 3

    scenario = simulate(
        conn, claims_app, {"version": "cgem-2021", "min_days_36": 636, "min_days_12": 212}, *period
    )
    assert scenario.changed == [(str(turned), "Rejeté", "Valable")]
    assert (scenario.overall.to_valable, scenario.overall.to_rejete) == (1, 0)
    # reference = (9 × 4 000 + 18 × 3 000) / 36 = 2 500.00 → 70 % = 1 750.00 a month, for 6 months
    assert scenario.overall.total_difference == Decimal("10500.00")
    assert scenario.by_month["2019-03"].to_valable == 1 and scenario.by_motif["licenciement"].claims == 4
    html = render_html(scenario)
    assert "cgem-2021" in html and "<svg" in html and "10500.00" in html
    assert claims_app.get_claim(turned).decision.situation == "Rejeté"  # nothing written
