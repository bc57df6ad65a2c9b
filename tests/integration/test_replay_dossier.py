"""The dossier's read model under `ipe replay` and for claims filed before migration 078.

- After agents recorded pieces (verified, refused then verified, refused for good) and a dossier expired,
  the live ``dossiers`` and ``dossier_documents`` rows equal the replay's rebuild; a tampered live row is
  reported and the swap puts the rebuilt one back.
- A claim without a dossier row (as if filed before migration 078) gets it back from the projector's sweep,
  equal to the one its ClaimSubmitted opened, and the sweep then ends it once its deadline is past.
"""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import psycopg
import pytest

from ipe_claims.application.claims import ClaimsApplication
from ipe_claims.application.clock import FixedClock
from ipe_claims.application.dossier import ExpireDossiers, RecordDocument
from ipe_claims.audit.replay import Difference, Shadow, read_models, store_head, store_records
from ipe_claims.settings import Settings
from services.eligibility_projector.projector import CONSUMER_NAME, EligibilityProjector
from tests.conftest import CLOCK, wait_for
from tests.integration.audit_helpers import run_cli
from tests.integration.conftest import Pipeline
from tests.integration.test_dossier import RIB, valid_claim
from tests.unit.test_dossier_service import MemoryScans

pytestmark = pytest.mark.integration
DOSSIER_TABLES = ("dossiers", "dossier_documents")


def record(
    app: ClaimsApplication, claim_id: uuid.UUID, minute: int, kind: str, status: str, **more: Any
) -> None:
    clock = FixedClock(CLOCK.now() + timedelta(minutes=minute))
    RecordDocument(app, MemoryScans(), clock)(
        claim_id, kind, status, agent="agent.z", agency="CASA-01", **more
    )


def at_day(day: Any) -> FixedClock:
    return FixedClock(datetime.combine(day, datetime.min.time(), UTC) + timedelta(hours=12))


def dossier_differences(
    conn: psycopg.Connection[Any], app: ClaimsApplication, claims: list[uuid.UUID]
) -> list[Difference]:
    """The differences between the live dossier tables and a rebuild from the store, for these claims."""
    with Shadow(conn, read_models()) as shadow:
        shadow.apply(store_records(app, 0, store_head(conn)))
        return [d for d in shadow.differences() if d.table in DOSSIER_TABLES and d.key["claim_id"] in claims]


def deadline_of(app: ClaimsApplication, claim_id: uuid.UUID) -> Any:
    return app.get_claim(claim_id).dossier_deadline


def rejected(app: ClaimsApplication, claim_id: uuid.UUID) -> bool:
    decision = app.get_claim(claim_id).decision
    return decision is not None and decision.rejection_code == "dossier_incomplete"


def row(conn: psycopg.Connection[Any], claim_id: uuid.UUID) -> tuple[Any, ...] | None:
    return conn.execute("SELECT * FROM dossiers WHERE claim_id = %s", (claim_id,)).fetchone()


@pytest.fixture(scope="module")
def lived(settings: Settings, claims_app: ClaimsApplication, pipeline: Pipeline) -> list[uuid.UUID]:
    """Three claims: a dossier completed (a piece refused, then verified), one with a piece refused for good,
    and one that expired."""
    with psycopg.connect(settings.database.url, autocommit=True) as conn:
        (_, complete), (_, refused), (_, expired) = (valid_claim(claims_app, conn) for _ in range(3))
        record(claims_app, complete, 0, "copie_cin", "refused", reason="illisible")
        for minute, kind in enumerate(
            ("formulaire_demande", "copie_cin", "pv_inspection_travail", "rib", "attestation_anapec"), 1
        ):
            record(claims_app, complete, minute, kind, "verified", **({"rib": RIB} if kind == "rib" else {}))
        record(claims_app, refused, 0, "formulaire_demande", "verified")
        record(claims_app, refused, 1, "pv_inspection_travail", "refused", reason="date illisible")
        record(claims_app, expired, 0, "formulaire_demande", "received")
        # The sweep's use case, on this claim only (the sweep itself would end other tests' claims too).
        expire = ExpireDossiers(
            claims_app, at_day(deadline_of(claims_app, expired) + timedelta(days=1)), CONSUMER_NAME
        )
        wait_for(lambda: expire([expired]) or rejected(claims_app, expired), what="the dossier to expire")
        wait_for(
            lambda: conn.execute(
                "SELECT (SELECT count(*) FROM dossier_documents WHERE claim_id = ANY(%s)), (SELECT count(*) "
                "FROM dossiers WHERE (claim_id = %s AND complete) OR (claim_id = %s AND expired_on IS NOT NULL))",
                ([complete, refused, expired], complete, expired),
            ).fetchone() == (8, 2),
            what="the pieces and the expiry in the dossier's read model",
        )  # fmt: skip
        return [complete, refused, expired]


def test_the_live_dossier_tables_equal_the_replays_rebuild(
    conn: psycopg.Connection[Any], claims_app: ClaimsApplication, lived: list[uuid.UUID]
) -> None:
    assert dossier_differences(conn, claims_app, lived) == []
    statuses = conn.execute(
        "SELECT status, count(*) FROM dossier_documents WHERE claim_id = ANY(%s) GROUP BY status ORDER BY status",
        (lived,),
    ).fetchall()
    assert statuses == [("received", 1), ("refused", 1), ("verified", 6)]


def test_a_tampered_dossier_row_is_reported_then_the_swap_puts_the_rebuilt_one_back(
    settings: Settings, conn: psycopg.Connection[Any], claims_app: ClaimsApplication, lived: list[uuid.UUID]
) -> None:
    complete, refused, _ = lived
    before = row(conn, complete)
    conn.execute("UPDATE dossiers SET complete = false, completed_on = NULL WHERE claim_id = %s", (complete,))
    conn.execute("DELETE FROM dossier_documents WHERE claim_id = %s AND status = 'refused'", (refused,))

    found = {(d.table, d.kind): d for d in dossier_differences(conn, claims_app, lived)}
    assert set(found) == {("dossiers", "changed"), ("dossier_documents", "extra")}
    assert set(found["dossiers", "changed"].columns) == {"complete", "completed_on"}
    assert found["dossier_documents", "extra"].key == {"claim_id": refused, "kind": "pv_inspection_travail"}

    result = run_cli(settings, "replay")
    assert result.exit_code == 0, result.output
    assert row(conn, complete) == before
    assert dossier_differences(conn, claims_app, lived) == []


def test_a_claim_without_a_dossier_row_gets_it_back_and_expires_at_the_sweep(
    pipeline: Pipeline, conn: psycopg.Connection[Any], claims_app: ClaimsApplication
) -> None:
    _, claim_id = valid_claim(claims_app, conn)
    opened = row(conn, claim_id)
    conn.execute("DELETE FROM dossiers WHERE claim_id = %s", (claim_id,))  # as if filed before 078

    assert EligibilityProjector(claims_app, pipeline.codec, CLOCK).open_dossiers(conn) >= 1
    assert row(conn, claim_id) == opened

    conn.execute("DELETE FROM dossiers WHERE claim_id = %s", (claim_id,))
    record(claims_app, claim_id, 0, "formulaire_demande", "verified")  # the projector opens it too
    wait_for(lambda: row(conn, claim_id) is not None, what="the dossier row reopened by a recorded piece")
    assert dossier_differences(conn, claims_app, [claim_id]) == []

    deadline = deadline_of(claims_app, claim_id)
    sweep = EligibilityProjector(claims_app, pipeline.codec, at_day(deadline + timedelta(days=1)))
    wait_for(
        lambda: sweep.expire_dossiers(conn) and rejected(claims_app, claim_id), what="the sweep to end it"
    )
    wait_for(
        lambda: (
            conn.execute("SELECT expired_on FROM dossiers WHERE claim_id = %s", (claim_id,)).fetchone()
            == (deadline,)
        ),
        what="the expiry in the dossier's read model",
    )


def test_the_audit_of_a_claim_says_each_piece_in_words_never_the_ribs_digits(
    settings: Settings, lived: list[uuid.UUID]
) -> None:
    complete, _, expired = lived
    result = run_cli(settings, "audit", "claim", str(complete), "--json")
    assert result.exit_code == 0, result.output
    said = [event["summary"] for event in json.loads(result.output)["events"]]
    assert "Piece « copie_cin » recorded as refused (illisible)" in said
    assert "Piece « rib » recorded as verified, bank account recorded (digits withheld)" in said
    assert any(s.startswith("Payments scheduled for ") for s in said)
    table = run_cli(settings, "audit", "claim", str(complete))
    assert table.exit_code == 0 and RIB not in result.output and RIB not in table.output.replace("\n", "")
    ended = json.loads(run_cli(settings, "audit", "claim", str(expired), "--json").output)["events"]
    assert any(e["summary"].startswith("The dossier was incomplete on its deadline") for e in ended)
