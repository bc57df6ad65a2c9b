"""Read-model projections: pure SQL upserts from claim-event records (the Avro record shape).

The same functions serve the live projector (records from Kafka) and a replay (records from the store),
so a rebuild is identical. Each row keeps the version of the last event applied; an older or repeated
event is a no-op, which makes redelivery and re-publication harmless.

``stage`` says why an undecided claim waits (migration 076 lists the values): ``deciding`` (the rules
decide it next), ``review`` (an agent's ruling on its motif), ``awaiting_declaration``, ``decided``.
"""

from __future__ import annotations

from typing import Any

import psycopg

from ipe_claims.adapters.dossier_projection import apply_dossier_event
from ipe_claims.domain.claim import EN_COURS, Claim
from ipe_claims.domain.dates import local_date
from ipe_claims.domain.motifs import MOTIFS

# The tables apply_event writes (a replay rebuilds them; backup.REBUILT empties them on a restore).
READ_MODELS = ("claims", "payments", "dossiers", "dossier_documents")
# The events apply_dossier_event reads; apply_claim_event changes nothing for the last three.
DOSSIER_EVENTS = (
    "ClaimSubmitted", "ClaimDecided", "ClaimDocumentRecorded", "ClaimDossierExpired", "ClaimDossierReminderDue",
)  # fmt: skip
__all__ = ["DOSSIER_EVENTS", "READ_MODELS", "apply_claim_event", "apply_dossier_event", "apply_event"]


def apply_event(conn: psycopg.Connection[Any], name: str, record: dict[str, Any]) -> None:
    """Apply one claim event to every read model: what the live projector and a replay both call."""
    apply_claim_event(conn, name, record)
    apply_dossier_event(conn, name, record)


def apply_claim_event(conn: psycopg.Connection[Any], name: str, record: dict[str, Any]) -> bool:
    """Apply one claim event to the ``claims`` read model; True when it changed a row."""
    if name == "ClaimSubmitted":
        return _submitted(conn, record)
    if name == "ClaimDecided":
        return _decided(conn, record)
    if name == "ClaimAwaitingDeclaration":
        return _update(
            conn, record, "awaiting_month = %(month)s, awaiting_due = %(due)s, stage = 'awaiting_declaration'"
        )
    if name == "ClaimDeclarationWaitExpired":
        return _update(conn, record, "stage = 'deciding'")  # the decision follows
    if name == "ClaimReviewRuled":
        return _update(conn, record | {"outcome": "involuntary" if record["involuntary"] else "voluntary"},
                       "stage = 'deciding', review_outcome = %(outcome)s, reviewed_at = %(occurred_at)s")  # fmt: skip
    if name == "ClaimForceMajeureGranted":
        return _update(conn, record, "force_majeure_at = %(occurred_at)s")  # the new decision follows
    if name == "ClaimReturnedToWork":
        return _update(
            conn, record,
            "returned_to_work_on = %(return_date)s, benefit_end_date = %(benefit_end)s, months_due = %(months_due)s",
        )  # fmt: skip
    if name in _PAYMENT_EVENTS:  # the claim's row keeps the version of its stream's last event too
        changed = _PAYMENT_EVENTS[name](conn, record)
        return _update(conn, record, "awaiting_month = awaiting_month") or changed
    return False


def submitted_stage(motif_code: str) -> str:
    """A claim under a motif that needs judgement waits for an agent (review.awaits_review) first."""
    motif = MOTIFS.get(motif_code)
    return "review" if motif is not None and motif.needs_review else "deciding"


def stage_of(claim: Claim) -> str:
    """The stage the projection gives the claim's row, from the aggregate (a row not projected yet)."""
    if claim.decision is not None:
        return "decided"
    if claim.awaiting is not None:
        return "awaiting_declaration"
    return "review" if claim.awaiting_review else "deciding"


def _update(conn: psycopg.Connection[Any], r: dict[str, Any], assignments: str) -> bool:
    """Apply an event's columns to its claim's row, once and in order (the row keeps the last version)."""
    cursor = conn.execute(
        f"UPDATE claims SET version = %(version)s, {assignments} "
        "WHERE claim_id = %(claim_id)s AND version < %(version)s",
        r,
    )
    return cursor.rowcount == 1


def _submitted(conn: psycopg.Connection[Any], r: dict[str, Any]) -> bool:
    motif = MOTIFS.get(r["motif_code"])
    cursor = conn.execute(
        """
        INSERT INTO claims (claim_id, version, affiliation_number, immatriculation, cin, nom, prenoms,
            motif_code, motif_label, job_loss_date, filed_at, situation, situation_date, stage)
        VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)
        ON CONFLICT (claim_id) DO NOTHING
        """,
        (
            r["claim_id"],
            r["version"],
            r["affiliation_number"],
            r["immatriculation"],
            r["cin"],
            r["nom"],
            r["prenoms"],
            r["motif_code"],
            motif.label_fr if motif else r["motif_code"],
            r["job_loss_date"],
            r["filed_at"],
            EN_COURS,
            local_date(r["filed_at"]),
            submitted_stage(r["motif_code"]),
        ),
    )
    return cursor.rowcount == 1


def _decided(conn: psycopg.Connection[Any], r: dict[str, Any]) -> bool:
    # SET expressions read the row as it was: the benefit's end is computed from the event's duration.
    return _update(
        conn, r | {"situation_date": local_date(r["occurred_at"])},
        "situation = %(situation)s, situation_date = %(situation_date)s, rejection_code = %(rejection_code)s, "
        "rejection_reason = %(rejection_reason_fr)s, rejection_reason_ar = %(rejection_reason_ar)s, "
        "monthly_amount = %(monthly_amount)s, duration_months = %(duration_months)s, "
        "ruleset_version = %(ruleset_version)s, awaiting_month = NULL, awaiting_due = NULL, "
        "months_due = %(duration_months)s, stage = 'decided', "
        "benefit_end_date = (job_loss_date + make_interval(months => %(duration_months)s))::date",
    )  # fmt: skip


# --- payments: one row per claim and month (migration 080) ---------------------------------------------


def _payments_scheduled(conn: psycopg.Connection[Any], r: dict[str, Any]) -> bool:
    cursor = conn.execute(
        "INSERT INTO payments (claim_id, month, version, amount_centimes, status) "
        "SELECT %s, month, %s, %s, 'scheduled' FROM unnest(%s::text[]) AS month "
        "ON CONFLICT (claim_id, month) DO NOTHING",
        (r["claim_id"], r["version"], r["amount_centimes"], list(r["months"])),
    )
    return cursor.rowcount > 0


def _payment_issued(conn: psycopg.Connection[Any], r: dict[str, Any]) -> bool:
    cursor = conn.execute(
        "UPDATE payments SET version = %s, status = 'issued', amount_centimes = %s, file_id = %s, "
        "issued_on = %s WHERE claim_id = %s AND month = %s AND version < %s",
        (r["version"], r["amount_centimes"], r["file_id"], local_date(r["occurred_at"]), r["claim_id"],
         r["month"], r["version"]),
    )  # fmt: skip
    return cursor.rowcount == 1


def _payments_cancelled(conn: psycopg.Connection[Any], r: dict[str, Any]) -> bool:
    cursor = conn.execute(
        "UPDATE payments SET version = %s, status = 'cancelled' "
        "WHERE claim_id = %s AND month = ANY(%s::text[]) AND version < %s",
        (r["version"], r["claim_id"], list(r["months"]), r["version"]),
    )
    return cursor.rowcount > 0


_PAYMENT_EVENTS = {
    "ClaimPaymentsScheduled": _payments_scheduled,
    "ClaimPaymentIssued": _payment_issued,
    "ClaimPaymentsCancelled": _payments_cancelled,
}
# Events whose rows are the payments table's: the replay's fold (audit/fold.py) only moves the claim's
# version for them, and sends them through apply_claim_event for their payments rows.
PAYMENT_EVENTS = tuple(_PAYMENT_EVENTS)
