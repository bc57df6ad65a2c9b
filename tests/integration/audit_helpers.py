"""Helpers of the audit/replay/analytics tests: file claims straight into the store, run the CLI."""

from __future__ import annotations

import os
import uuid
from datetime import date
from decimal import Decimal
from typing import Any

import psycopg
from typer.testing import CliRunner, Result

from ipe_claims.application.claims import ClaimsApplication
from ipe_claims.entrypoints.cli import app as cli_app
from ipe_claims.settings import Settings
from tests.conftest import CLOCK, TODAY, Insured, declare, wait_for

MOTIFS = ("licenciement_economique", "fin_cdd", "demission", "fermeture_entreprise", "faute_grave")


def file_claim(
    app: ClaimsApplication, insured: Insured, motif: str = "licenciement_economique", loss: date | None = None
) -> uuid.UUID:
    claim_id = uuid.uuid4()
    app.submit(
        claim_id,
        filed_at=CLOCK.now(),
        affiliation_number=insured.affiliation_number,
        immatriculation=insured.immatriculation,
        cin=insured.cin,
        nom=insured.nom,
        prenoms=insured.prenoms,
        job_loss_date=loss or TODAY,
        motif_code=motif,
        attestation=True,
        submitted_by="test-employer",
        channel="http",
    )
    return claim_id


def busy_run(conn: psycopg.Connection[Any], app: ClaimsApplication, count: int) -> list[uuid.UUID]:
    """``count`` claims of every kind: valid at different salaries, short histories, excluded motifs."""
    ids = []
    for i in range(count):
        months = 36 if i % 3 else 8
        insured = declare(conn, months=months, salary=Decimal(1500 + 700 * (i % 9)))
        ids.append(file_claim(app, insured, MOTIFS[i % len(MOTIFS)]))
    return ids


def wait_projected(conn: psycopg.Connection[Any], ids: list[uuid.UUID], timeout: float = 60.0) -> None:
    """Until every claim is decided and its row has applied the last event of its stream."""

    def done() -> bool:
        row = conn.execute(
            "SELECT count(*) FROM claims c WHERE c.claim_id = ANY(%s) AND c.situation <> 'En cours' "
            "AND c.version = (SELECT max(originator_version) FROM ipe_events e WHERE e.originator_id = c.claim_id)",
            (ids,),
        ).fetchone()
        return bool(row and row[0] == len(ids))

    wait_for(done, timeout, "claims decided and projected")


def run_cli(settings: Settings, *args: str, database_url: str | None = None) -> Result:
    env = {
        "DATABASE_URL": database_url or settings.database.url,
        "KAFKA_BOOTSTRAP_SERVERS": settings.kafka.bootstrap_servers,
        "IPE_HOME": str(settings.home),
        "IPE_SCHEMAS_DIR": str(settings.schemas_dir),
        "COLUMNS": "200",
    }
    return CliRunner().invoke(cli_app, list(args), env={**os.environ, **env})
