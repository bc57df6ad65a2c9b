"""A claim's events folded into its final ``claims`` row, in Python, for a rebuild into empty tables.

``projections.apply_claim_event`` sends one statement per event, which a live projector needs (it
answers event by event) but a rebuild does not: a rebuild of a claim whose row does not exist yet can
compute the row's final state from the claim's events of a page and write it once (``COPY``). This
module mirrors apply_claim_event statement by statement — an INSERT that does nothing when the row
exists, UPDATEs applied only to a row of an older version — including what the SQL computes (the
benefit's end from the row's job-loss date), so the folded row equals the row the statements leave.
tests/integration/test_replay_fold.py holds the two side by side on mixed histories.
"""

from __future__ import annotations

from datetime import date
from typing import Any

from ipe_claims.adapters.projections import PAYMENT_EVENTS, submitted_stage
from ipe_claims.domain.claim import EN_COURS
from ipe_claims.domain.dates import local_date
from ipe_claims.domain.motifs import MOTIFS
from ipe_claims.domain.rules import benefit_end

Record = tuple[str, dict[str, Any]]
TABLE = "claims"
COLUMNS = (
    "claim_id", "version", "affiliation_number", "immatriculation", "cin", "nom", "prenoms", "motif_code",
    "motif_label", "job_loss_date", "filed_at", "situation", "situation_date", "rejection_code",
    "rejection_reason", "rejection_reason_ar", "monthly_amount", "duration_months", "ruleset_version",
    "months_due", "awaiting_month", "awaiting_due", "returned_to_work_on", "benefit_end_date",
    "stage", "review_outcome", "reviewed_at", "force_majeure_at",
)  # fmt: skip
SUBMITTED = "ClaimSubmitted"
Row = dict[str, Any]


def _submitted_row(r: dict[str, Any]) -> Row:
    """What projections._submitted inserts; the columns it leaves out are NULL."""
    motif = MOTIFS.get(r["motif_code"])
    return dict.fromkeys(COLUMNS) | {
        "claim_id": r["claim_id"],
        "version": r["version"],
        "affiliation_number": r["affiliation_number"],
        "immatriculation": r["immatriculation"],
        "cin": r["cin"],
        "nom": r["nom"],
        "prenoms": r["prenoms"],
        "motif_code": r["motif_code"],
        "motif_label": motif.label_fr if motif else r["motif_code"],
        "job_loss_date": r["job_loss_date"],
        "filed_at": r["filed_at"],
        "situation": EN_COURS,
        "situation_date": local_date(r["filed_at"]),
        "stage": submitted_stage(r["motif_code"]),
    }


def _as_date(value: Any) -> date:
    return date.fromisoformat(value) if isinstance(value, str) else value


def _apply(row: Row, name: str, r: dict[str, Any]) -> None:
    """One UPDATE of projections.apply_claim_event, on a row known to be of an older version."""
    if name == "ClaimDecided":
        duration = r["duration_months"]
        row.update(
            situation=r["situation"],
            situation_date=local_date(r["occurred_at"]),
            rejection_code=r["rejection_code"],
            rejection_reason=r["rejection_reason_fr"],
            rejection_reason_ar=r["rejection_reason_ar"],
            monthly_amount=r["monthly_amount"],
            duration_months=duration,
            ruleset_version=r["ruleset_version"],
            awaiting_month=None,
            awaiting_due=None,
            months_due=duration,
            stage="decided",
            # SQL: (job_loss_date + make_interval(months => duration))::date, NULL without a duration.
            benefit_end_date=None if duration is None else benefit_end(_as_date(row["job_loss_date"]), int(duration)),
        )  # fmt: skip
    elif name == "ClaimAwaitingDeclaration":
        row.update(awaiting_month=r["month"], awaiting_due=r["due"], stage="awaiting_declaration")
    elif name == "ClaimDeclarationWaitExpired":
        row.update(stage="deciding")
    elif name == "ClaimReviewRuled":
        outcome = "involuntary" if r["involuntary"] else "voluntary"
        row.update(stage="deciding", review_outcome=outcome, reviewed_at=r["occurred_at"])
    elif name == "ClaimForceMajeureGranted":
        row.update(force_majeure_at=r["occurred_at"])
    elif name == "ClaimReturnedToWork":
        row.update(
            returned_to_work_on=r["return_date"],
            benefit_end_date=r["benefit_end"],
            months_due=r["months_due"],
        )
    elif name not in PAYMENT_EVENTS:  # payment events only move the version
        return  # not an event the projection knows: apply_claim_event changes nothing
    row["version"] = r["version"]


def fold(events: list[Record]) -> Row | None:
    """The ``claims`` row that ``events`` of one claim leave, applied in this order to no row at first;
    None when they leave none (no ClaimSubmitted among them)."""
    row: Row | None = None
    for name, r in events:
        if row is None:
            if name == SUBMITTED:
                row = _submitted_row(r)
            # else: an UPDATE of a row that does not exist yet changes nothing
        elif name != SUBMITTED and row["version"] < r["version"]:
            _apply(row, name, r)
    return row
