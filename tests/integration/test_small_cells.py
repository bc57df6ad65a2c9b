"""Small cells: a one-day range holding one person's claim shows no count and no amount, in
`/reports/overview`, in `ipe report` and in the analyst views; the threshold is the database's setting."""

from __future__ import annotations

import random
import uuid
from collections.abc import Iterator
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from typing import Any

import psycopg
import pytest
from fastapi.testclient import TestClient

from ipe_claims.analytics.wording import number
from ipe_claims.application.claims import ClaimsApplication
from ipe_claims.settings import Settings
from services.claim_intake.api import create_app
from tests.conftest import declare, wait_for
from tests.integration.audit_helpers import run_cli
from tests.integration.conftest import Pipeline
from tests.integration.test_audit_history import login

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def lone_day(settings: Settings, claims_app: ClaimsApplication, pipeline: Pipeline) -> tuple[date, Decimal]:
    """A day (in a month no other test files in) with exactly one claim, valid; and its monthly amount."""
    filed = date(2017, 1, 1) + timedelta(days=random.randrange(6 * 365))
    loss = filed - timedelta(days=3)
    with psycopg.connect(settings.database.url, autocommit=True) as conn:
        insured = declare(conn, months=40, before=loss.replace(day=1))
        claim_id = uuid.uuid4()
        claims_app.submit(
            claim_id, filed_at=datetime.combine(filed, time(10), UTC), submitted_by="test", channel="http",
            affiliation_number=insured.affiliation_number, immatriculation=insured.immatriculation, cin=insured.cin,
            nom=insured.nom, prenoms=insured.prenoms, job_loss_date=loss, motif_code="licenciement_economique",
            attestation=True,
        )  # fmt: skip
        row = wait_for(lambda: conn.execute("SELECT situation, monthly_amount FROM claims WHERE claim_id = %s "
                                            "AND situation <> 'En cours'", (claim_id,)).fetchone(), what="decision")  # fmt: skip
    assert row[0] == "Valable" and row[1] > 0
    return filed, row[1]


@pytest.fixture
def threshold(conn: psycopg.Connection[Any]) -> Iterator[Any]:
    def set_to(value: int) -> None:
        conn.execute("UPDATE analytics_policy SET small_cell_threshold = %s", (value,))

    yield set_to
    set_to(5)


def test_the_overview_of_one_persons_day_is_suppressed(
    settings: Settings,
    claims_app: ClaimsApplication,
    conn: psycopg.Connection[Any],
    lone_day: tuple[date, Decimal],
    threshold: Any,
) -> None:
    lone, amount = lone_day
    with TestClient(create_app(settings, claims_app)) as client:
        headers = login(client, conn, "analyst")
        day = {"date_from": lone.isoformat(), "date_to": lone.isoformat()}
        report = client.get("/reports/overview", params=day, headers=headers).json()
        assert report["small_cell_threshold"] == 5
        assert report["totals"]["claims"] is None and report["totals"]["total_amount"] is None
        [month] = report["amounts_per_month"]
        assert month["valid_claims"] is None and month["sum"] is None and month["total_amount"] is None
        assert str(amount) not in str(report) and str(amount * 6) not in str(report)

        threshold(1)  # the same day with the threshold at 1: the figures were there, hidden
        shown = client.get("/reports/overview", params=day, headers=headers).json()
        assert shown["totals"]["claims"] == 1 and Decimal(str(shown["totals"]["total_amount"])) == amount * 6


def test_ipe_report_shows_the_day_suppressed(settings: Settings, lone_day: tuple[date, Decimal]) -> None:
    day, amount = lone_day[0].isoformat(), lone_day[1]
    printed = run_cli(settings, "report", "--from", day, "--to", day)
    assert printed.exit_code == 0, printed.output
    assert "<5 demandes" in printed.output
    for figure in (amount, amount * 6):  # neither as the database writes it nor as the report does
        assert str(figure) not in printed.output and number(figure) not in printed.output


def test_the_analyst_views_suppress_the_lone_month(
    settings: Settings, conn: psycopg.Connection[Any], lone_day: tuple[date, Decimal], threshold: Any
) -> None:
    month, amount = lone_day[0].replace(day=1), lone_day[1]
    name = f"analyst_{uuid.uuid4().hex[:8]}"
    conn.execute(f"CREATE ROLE {name} LOGIN PASSWORD 'analyst-pw' IN ROLE analyst")
    url = settings.database.url.replace(
        settings.database.url.split("//")[1].split("@")[0], f"{name}:analyst-pw", 1
    )
    try:
        with psycopg.connect(url, autocommit=True) as analyst:
            row = analyst.execute("SELECT valid_claims, monthly_amount_sum, total_amount FROM "
                                  "analytics.amounts_per_month WHERE month = %s", (month,)).fetchone()  # fmt: skip
            assert row == (None, None, None)
            with pytest.raises(psycopg.errors.InsufficientPrivilege):  # the threshold is not theirs to lower
                analyst.execute("UPDATE analytics_policy SET small_cell_threshold = 1")
            threshold(1)
            row = analyst.execute("SELECT valid_claims, total_amount FROM analytics.amounts_per_month "
                                  "WHERE month = %s", (month,)).fetchone()  # fmt: skip
            assert row == (1, amount * 6)
    finally:
        conn.execute(f"DROP ROLE {name}")
