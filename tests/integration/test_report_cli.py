"""`ipe affiliations load` and `ipe report`, run as a user runs them, against the harness database."""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from datetime import timedelta
from pathlib import Path
from typing import Any

import psycopg
import pytest

from ipe_claims.application.claims import ClaimsApplication
from ipe_claims.settings import Settings
from tests.conftest import CLOCK, TODAY, declare, random_digits, wait_for
from tests.integration.conftest import Pipeline

pytestmark = pytest.mark.integration


def ipe(settings: Settings, *args: str) -> subprocess.CompletedProcess[str]:
    env = os.environ | {"DATABASE_URL": settings.database.url}
    return subprocess.run([sys.executable, "-m", "ipe_claims.entrypoints.cli", *args], env=env, capture_output=True, text=True,
                          timeout=120)  # fmt: skip


def test_affiliations_load_names_places_and_refuses_bad_files(
    settings: Settings, conn: psycopg.Connection[Any], tmp_path: Path
) -> None:
    number = random_digits(7)
    good = tmp_path / "affiliations.csv"
    good.write_text(
        f"affiliation_number,name,city,region\n{number},Atlas Bois SARL,Fès,Fès-Meknès\n", encoding="utf-8"
    )
    loaded = ipe(settings, "affiliations", "load", str(good))
    assert loaded.returncode == 0, loaded.stdout + loaded.stderr
    assert conn.execute("SELECT name, city, region FROM affiliations WHERE affiliation_number = %s",
                        (number,)).fetchone() == ("Atlas Bois SARL", "Fès", "Fès-Meknès")  # fmt: skip
    bad = tmp_path / "bad.csv"
    bad.write_text(
        f"affiliation_number,name,city,region\n{number},Renamed,X,Y\nabc,Other,X,Y\n", encoding="utf-8"
    )
    refused = ipe(settings, "affiliations", "load", str(bad))
    assert refused.returncode == 1 and "line 3" in refused.stdout
    assert conn.execute(
        "SELECT name FROM affiliations WHERE affiliation_number = %s", (number,)
    ).fetchone() == ("Atlas Bois SARL",)  # nothing of the bad file was written


@pytest.mark.calendar
def test_report_prints_the_tables_and_writes_html_with_charts(
    pipeline: Pipeline, settings: Settings, claims_app: ClaimsApplication, conn: psycopg.Connection[Any],
    tmp_path: Path,
) -> None:  # fmt: skip
    insured = declare(conn, months=20)  # too few days: a rejection for the report to show
    claim = claims_app.submit(
        uuid.uuid4(), filed_at=CLOCK.now(), submitted_by="t", channel="http",
        affiliation_number=insured.affiliation_number, immatriculation=insured.immatriculation, cin=insured.cin,
        nom=insured.nom, prenoms=insured.prenoms, job_loss_date=TODAY - timedelta(days=2),
        motif_code="licenciement", attestation=True,
    )  # fmt: skip
    wait_for(lambda: conn.execute("SELECT 1 FROM claims WHERE claim_id = %s AND situation = 'Rejeté'",
                                  (claim.id,)).fetchone(), what="the rejection")  # fmt: skip
    html = tmp_path / "report.html"
    today = TODAY.isoformat()
    printed = ipe(settings, "report", "--from", today, "--to", today, "--html", str(html))
    assert printed.returncode == 0, printed.stdout + printed.stderr
    words = printed.stdout.split()  # at 80 columns (no terminal) the rule's name wraps in its cell
    assert {"Jours", "déclarés", "insuffisants", "demandes", "Règle"} <= set(words)
    assert "insufficient_days_36" not in printed.stdout and "rejected" not in printed.stdout
    page = html.read_text(encoding="utf-8")
    assert page.count("<svg") == 2 and "Jours déclarés insuffisants sur 36 mois" in page
    assert "insufficient_days_36" not in page and "rejection_code" not in page
    assert insured.nom not in page and insured.nom not in printed.stdout  # no personal data
    assert ipe(settings, "report", "--from", "tomorrow").returncode == 2
