"""The dossier's read model (``dossiers``, ``dossier_documents``: migration 078) from claim-event records.
``reminded_on`` (migration 083) is the day the worker's reminder was seen due (ClaimDossierReminderDue).

Which pieces are required and whether all are verified are the domain's answers (``dossier_state``, with
the facts ``application.dossier.dossier_facts`` reads from the pieces recorded), computed here again after
each record from the latest record of each kind, so the table agrees with the claim's stream. Rows keep the
version of the last event applied: a redelivered event changes nothing. The RIB's digits never reach it
(the Avro record has no field for them). The claim's first Valable decision moves the deadline
(``dossier.deadline_once_valable``) and sets ``valable_on``, once: the row keeps its version, so a row opened
from the ``claims`` row of an older claim, where that decision is already folded in, is the row a replay
leaves.

A claim filed before migration 078 has no ``dossiers`` row: ``open_missing`` (the projector's sweep, in
batches) and the first piece recorded for it open the row from its ``claims`` row, as its ClaimSubmitted
would have (version 1, the version of every stream's first event), then fold in the pieces already
recorded — the row a replay of its stream leaves. A claim under a motif the catalogue no longer knows
gets no dossier row (which pieces it needs cannot be said; the rules do not find it Valable).
"""

from __future__ import annotations

from typing import Any

import psycopg
from psycopg.rows import tuple_row

from ipe_claims.application.dossier import dossier_facts
from ipe_claims.domain import dossier
from ipe_claims.domain.dates import local_date
from ipe_claims.domain.motifs import MOTIFS
from ipe_claims.domain.rules import VALABLE

SUBMITTED_VERSION = 1  # a claim's stream starts at version 1 (eventsourcing's Aggregate.INITIAL_VERSION)


def apply_dossier_event(conn: psycopg.Connection[Any], name: str, record: dict[str, Any]) -> bool:
    """Apply one claim event to the dossier's read model; True when it changed a row."""
    if name == "ClaimSubmitted":
        return _opened(conn, record)
    if name == "ClaimDocumentRecorded":
        return _recorded(conn, record)
    if name == "ClaimDecided":
        return _decided(conn, record)
    if name == "ClaimDossierExpired":
        cursor = conn.execute(
            "UPDATE dossiers SET expired_on = %(deadline)s, version = %(version)s "
            "WHERE claim_id = %(claim_id)s AND version < %(version)s",
            record,
        )
        return cursor.rowcount == 1
    if name == "ClaimDossierReminderDue":
        cursor = conn.execute(
            "UPDATE dossiers SET reminded_on = %(observed_on)s, version = %(version)s "
            "WHERE claim_id = %(claim_id)s AND version < %(version)s",
            record,
        )
        return cursor.rowcount == 1
    return False


def _opened(conn: psycopg.Connection[Any], r: dict[str, Any]) -> bool:
    if r["motif_code"] not in MOTIFS:
        return False
    rules = dossier.dossier_rules_for(r["job_loss_date"])
    required = dossier.required_documents(dossier_facts(r["motif_code"], []), rules)
    valable_on = r.get("valable_on")  # only from a claims row (_open_from_claims); a ClaimSubmitted has none
    cursor = conn.execute(
        "INSERT INTO dossiers (claim_id, version, motif_code, job_loss_date, deadline, required, valable_on) "
        "VALUES (%s, %s, %s, %s, %s, %s, %s) ON CONFLICT (claim_id) DO NOTHING",
        (r["claim_id"], r["version"], r["motif_code"], r["job_loss_date"],
         dossier.dossier_deadline(rules, r["job_loss_date"], local_date(r["filed_at"]), valable_on),
         [piece.kind for piece in required], valable_on),
    )  # fmt: skip
    return cursor.rowcount == 1


def _decided(conn: psycopg.Connection[Any], r: dict[str, Any]) -> bool:
    """The first Valable decision gives the worker time after it: the deadline moves, once."""
    if r["situation"] != VALABLE:
        return False
    query = "SELECT job_loss_date, deadline FROM dossiers WHERE claim_id = %s AND valable_on IS NULL"
    cursor = conn.cursor(row_factory=tuple_row)
    row = cursor.execute(query, (r["claim_id"],)).fetchone()
    if row is None:
        # No row yet (a claim filed before migration 078: opened from its claims row, this decision in it),
        # or its first Valable decision is already in it: nothing to move.
        return _open_from_claims(conn, [r["claim_id"]]) == 1
    job_loss_date, deadline = row
    valable_on = local_date(r["occurred_at"])
    moved = dossier.deadline_once_valable(dossier.dossier_rules_for(job_loss_date), deadline, valable_on)
    cursor.execute(
        "UPDATE dossiers SET deadline = %s, valable_on = %s WHERE claim_id = %s AND valable_on IS NULL",
        (moved, valable_on, r["claim_id"]),
    )
    return cursor.rowcount == 1


def _recorded(conn: psycopg.Connection[Any], r: dict[str, Any]) -> bool:
    cursor = conn.execute(
        """
        INSERT INTO dossier_documents (claim_id, kind, version, status, reason, sha256, agent, agency, recorded_at)
        VALUES (%(claim_id)s, %(kind)s, %(version)s, %(status)s, %(reason)s, %(sha256)s, %(agent)s, %(agency)s,
                %(occurred_at)s)
        ON CONFLICT (claim_id, kind) DO UPDATE SET version = EXCLUDED.version, status = EXCLUDED.status,
            reason = EXCLUDED.reason, sha256 = EXCLUDED.sha256, agent = EXCLUDED.agent,
            agency = EXCLUDED.agency, recorded_at = EXCLUDED.recorded_at
        WHERE dossier_documents.version < EXCLUDED.version
        """,
        r,
    )
    # Recomputed whether or not the row changed (in a pipeline the rowcount is not known yet): the same rows
    # give the same answer, so a redelivered event still changes nothing.
    changed = cursor.rowcount == 1
    _recompute(conn, r["claim_id"], r["version"])
    return changed


def _recompute(conn: psycopg.Connection[Any], claim_id: Any, version: int) -> None:
    """The dossier's required pieces and completeness from the pieces recorded, at ``version`` at least."""
    cursor = conn.cursor(row_factory=tuple_row)
    query = "SELECT motif_code, job_loss_date FROM dossiers WHERE claim_id = %s"
    opened = cursor.execute(query, (claim_id,)).fetchone()
    if opened is None:  # filed before migration 078
        _open_from_claims(conn, [claim_id])
        opened = cursor.execute(query, (claim_id,)).fetchone()
    if opened is None:
        return  # no claims row either: its ClaimSubmitted, not projected yet, opens the dossier
    motif_code, job_loss_date = opened
    rows = cursor.execute(
        "SELECT kind, status, recorded_at FROM dossier_documents WHERE claim_id = %s ORDER BY version",
        (claim_id,),
    ).fetchall()
    records = [dossier.DocumentRecord(kind, status, local_date(at)) for kind, status, at in rows]
    rules = dossier.dossier_rules_for(job_loss_date)
    state = dossier.dossier_state(dossier_facts(motif_code, records), rules, records)
    conn.execute(
        "UPDATE dossiers SET required = %s, complete = %s, completed_on = %s, version = greatest(version, %s) "
        "WHERE claim_id = %s",
        ([piece.kind for piece in state.required], state.complete, state.completed_on, version, claim_id),
    )


def _open_from_claims(conn: psycopg.Connection[Any], claim_ids: list[Any]) -> int:
    """Open the missing dossier rows of these claims from their ``claims`` rows, as their ClaimSubmitted
    would have; return how many were opened (outside a pipeline; the caller folds in the pieces)."""
    rows = (
        conn.cursor(row_factory=tuple_row)
        .execute(
            "SELECT c.claim_id, c.motif_code, c.job_loss_date, c.filed_at, "
            "CASE WHEN c.situation = %s THEN c.situation_date END FROM claims c WHERE c.claim_id = ANY(%s) "
            "AND NOT EXISTS (SELECT 1 FROM dossiers d WHERE d.claim_id = c.claim_id)",
            (VALABLE, claim_ids),
        )
        .fetchall()
    )
    opened = 0
    for claim_id, motif_code, job_loss_date, filed_at, valable_on in rows:
        opened += _opened(conn, {"claim_id": claim_id, "version": SUBMITTED_VERSION, "motif_code": motif_code,
                                 "job_loss_date": job_loss_date, "filed_at": filed_at,
                                 "valable_on": valable_on})  # fmt: skip
    return opened


def open_missing(conn: psycopg.Connection[Any], limit: int) -> int:
    """Open the dossier rows of up to ``limit`` claims that have none (filed before migration 078), with the
    pieces already recorded for them folded in; return how many had none (fewer than ``limit``: the last)."""
    missing = [
        row[0]
        for row in conn.execute(
            "SELECT c.claim_id FROM claims c WHERE c.motif_code = ANY(%s) AND NOT EXISTS "
            "(SELECT 1 FROM dossiers d WHERE d.claim_id = c.claim_id) ORDER BY c.claim_id LIMIT %s",
            (list(MOTIFS), limit),
        ).fetchall()
    ]
    _open_from_claims(conn, missing)
    for claim_id, version in conn.execute(
        "SELECT claim_id, max(version) FROM dossier_documents WHERE claim_id = ANY(%s) GROUP BY claim_id",
        (missing,),
    ).fetchall():
        _recompute(conn, claim_id, version)
    return len(missing)
