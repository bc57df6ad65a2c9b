"""The `analytics` views and the `analyst` role: the fund's figures, and nothing personal."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import psycopg
import pytest
from fastapi.testclient import TestClient
from psycopg import errors

from ipe_claims.application.claims import ClaimsApplication
from ipe_claims.settings import Settings
from services.claim_intake.api import create_app
from tests.integration.audit_helpers import busy_run, wait_projected
from tests.integration.conftest import Pipeline
from tests.integration.test_audit_history import login

pytestmark = pytest.mark.integration
PERSONAL = {"immatriculation", "cin", "nom", "prenoms"}


@pytest.fixture(scope="module")
def filed(settings: Settings, claims_app: ClaimsApplication, pipeline: Pipeline) -> list[uuid.UUID]:
    with psycopg.connect(settings.database.url, autocommit=True) as conn:
        ids = busy_run(conn, claims_app, 12)
        wait_projected(conn, ids)
    return ids


@pytest.fixture
def analyst(settings: Settings, conn: psycopg.Connection[Any]) -> Iterator[psycopg.Connection[Any]]:
    """A person's login in the `analyst` group role, connected as that login."""
    name = f"analyst_{uuid.uuid4().hex[:8]}"
    conn.execute(f"CREATE ROLE {name} LOGIN PASSWORD 'analyst-pw' IN ROLE analyst")
    credentials = settings.database.url.split("//", 1)[1].split("@", 1)[0]  # the harness's postgres:password
    url = settings.database.url.replace(credentials, f"{name}:analyst-pw", 1)
    try:
        with psycopg.connect(url, autocommit=True) as connection:
            yield connection
    finally:
        conn.execute(f"DROP ROLE {name}")


def test_the_analyst_reads_every_view(analyst: psycopg.Connection[Any], filed: list[uuid.UUID]) -> None:
    assert analyst.execute("SELECT current_user").fetchone() == (analyst.info.user,)
    views = ["claims_per_month", "rejection_reasons", "motifs", "amounts_per_month",
             "decision_delays", "by_affiliation", "by_region"]  # fmt: skip
    for view in views:
        analyst.execute(f"SELECT * FROM analytics.{view} LIMIT 5").fetchall()
    total = analyst.execute("SELECT sum(claims) FROM analytics.claims_per_month").fetchone()
    assert total and total[0] >= len(filed) - 4 * 3  # at most 4 claims hidden in each of 3 situations


@pytest.mark.parametrize(
    "query",
    ["SELECT * FROM ipe_events LIMIT 1", "SELECT cin, nom FROM claims LIMIT 1", "SELECT claim_id FROM claims LIMIT 1",
     "SELECT * FROM insured LIMIT 1", "SELECT * FROM declarations LIMIT 1", "SELECT * FROM accounts LIMIT 1",
     "SELECT * FROM audit_event_seals LIMIT 1",
     "SELECT * FROM analytics.claim_facts LIMIT 1",  # one row per claim: not for analysts (small cells)
     "SELECT * FROM analytics_policy"],
)  # fmt: skip
def test_the_analyst_cannot_read_the_store_or_personal_data(
    analyst: psycopg.Connection[Any], query: str
) -> None:
    with pytest.raises(errors.InsufficientPrivilege):
        analyst.execute(query)


def test_no_view_has_a_personal_column(conn: psycopg.Connection[Any]) -> None:
    columns = {row[0] for row in conn.execute(
        "SELECT column_name FROM information_schema.columns WHERE table_schema = 'analytics'"
    )}  # fmt: skip
    assert columns and not columns & PERSONAL


def test_figures_match_the_claims(conn: psycopg.Connection[Any], filed: list[uuid.UUID]) -> None:
    rows = conn.execute(
        "SELECT affiliation_number, situation, monthly_amount, duration_months FROM claims WHERE claim_id = ANY(%s)",
        (filed,),
    ).fetchall()
    conn.execute(
        "UPDATE affiliations SET city = 'Fès', region = 'Fès-Meknès' WHERE affiliation_number = %s",
        (rows[0][0],),
    )
    for affiliation, situation, _amount, _months in rows:  # one claim each: a small cell, no count, no amount
        row = conn.execute(
            "SELECT claims, valid, rejected, total_amount FROM analytics.by_affiliation WHERE affiliation_number = %s",
            (affiliation,),
        ).fetchone()
        assert row is not None and row[0] is None
        assert row[3] is None if situation == "Valable" else row[1:] == (0, None, 0)  # zeros are nobody
    conn.execute("UPDATE analytics_policy SET small_cell_threshold = 1")
    try:
        for affiliation, situation, amount, months in rows:
            row = conn.execute(
                "SELECT claims, valid, rejected, total_amount FROM analytics.by_affiliation "
                "WHERE affiliation_number = %s", (affiliation,),
            ).fetchone()  # fmt: skip
            valid = situation == "Valable"
            assert row == (1, int(valid), int(not valid), amount * months if valid else Decimal(0))
        region = conn.execute(
            "SELECT claims FROM analytics.by_region WHERE region = 'Fès-Meknès' AND city = 'Fès'"
        ).fetchone()
        assert region and region[0] >= 1
        shares = conn.execute("SELECT sum(share_of_rejections) FROM analytics.rejection_reasons").fetchone()
        assert shares and abs(shares[0] - 1) < Decimal("0.001")
    finally:
        conn.execute("UPDATE analytics_policy SET small_cell_threshold = 5")


def test_the_overview_report_is_for_analysts(
    settings: Settings, claims_app: ClaimsApplication, conn: psycopg.Connection[Any], filed: list[uuid.UUID]
) -> None:
    with TestClient(create_app(settings, claims_app)) as client:
        response = client.get("/reports/overview", headers=login(client, conn, "analyst"))
        assert response.status_code == 200, response.text
        report = response.json()
        assert report["totals"]["claims"] >= len(filed)
        assert {
            "claims_per_month",
            "rejection_reasons",
            "motifs",
            "amounts_per_month",
            "decision_delays",
        } <= set(report)
        employer = login(client, conn, "employer", "1234567")
        assert client.get("/reports/overview", headers=employer).status_code == 403
        bad = client.get("/reports/overview?date_from=2026-13-01", headers=login(client, conn, "analyst"))
        assert bad.status_code == 400 and bad.json()["error"]["field"] == "from"
