"""The dossier's read model (``dossiers``, ``dossier_documents``: migration 078) from claim-event records.

Which pieces are required and whether all are verified are the domain's answers (``dossier_state``, with
the facts ``application.dossier.dossier_facts`` reads from the pieces recorded), computed here again after
each record from the latest record of each kind, so the table agrees with the claim's stream. Rows keep the
version of the last event applied: a redelivered event changes nothing. The RIB's digits never reach it
(the Avro record has no field for them).
"""

from __future__ import annotations

from typing import Any

import psycopg
from psycopg.rows import tuple_row

from ipe_claims.application.dossier import dossier_facts
from ipe_claims.domain import dossier
from ipe_claims.domain.dates import local_date


def apply_dossier_event(conn: psycopg.Connection[Any], name: str, record: dict[str, Any]) -> bool:
    """Apply one claim event to the dossier's read model; True when it changed a row."""
    if name == "ClaimSubmitted":
        return _opened(conn, record)
    if name == "ClaimDocumentRecorded":
        return _recorded(conn, record)
    if name == "ClaimDossierExpired":
        cursor = conn.execute(
            "UPDATE dossiers SET expired_on = %(deadline)s, version = %(version)s "
            "WHERE claim_id = %(claim_id)s AND version < %(version)s",
            record,
        )
        return cursor.rowcount == 1
    return False


def _opened(conn: psycopg.Connection[Any], r: dict[str, Any]) -> bool:
    rules = dossier.dossier_rules_for(r["job_loss_date"])
    required = dossier.required_documents(dossier_facts(r["motif_code"], []), rules)
    cursor = conn.execute(
        "INSERT INTO dossiers (claim_id, version, motif_code, job_loss_date, deadline, required) "
        "VALUES (%s, %s, %s, %s, %s, %s) ON CONFLICT (claim_id) DO NOTHING",
        (r["claim_id"], r["version"], r["motif_code"], r["job_loss_date"],
         dossier.dossier_deadline(rules, r["job_loss_date"], local_date(r["filed_at"])),
         [piece.kind for piece in required]),
    )  # fmt: skip
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
    cursor = conn.cursor(row_factory=tuple_row)
    opened = cursor.execute(
        "SELECT motif_code, job_loss_date FROM dossiers WHERE claim_id = %s", (r["claim_id"],)
    ).fetchone()
    if opened is None:
        return changed  # a claim filed before migration 078 has no dossier row to keep
    motif_code, job_loss_date = opened
    rows = cursor.execute(
        "SELECT kind, status, recorded_at FROM dossier_documents WHERE claim_id = %s ORDER BY version",
        (r["claim_id"],),
    ).fetchall()
    records = [dossier.DocumentRecord(kind, status, local_date(at)) for kind, status, at in rows]
    rules = dossier.dossier_rules_for(job_loss_date)
    state = dossier.dossier_state(dossier_facts(motif_code, records), rules, records)
    conn.execute(
        "UPDATE dossiers SET required = %s, complete = %s, completed_on = %s, version = greatest(version, %s) "
        "WHERE claim_id = %s",
        ([piece.kind for piece in state.required], state.complete, state.completed_on, r["version"],
         r["claim_id"]),
    )  # fmt: skip
    return changed
