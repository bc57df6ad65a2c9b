"""Claims: the confirmation preview, submission, the history table, one claim, its notifications."""

import uuid
from datetime import UTC, datetime
from typing import Annotated, Any

import structlog
from fastapi import APIRouter, Header, Query
from pydantic import BaseModel, ConfigDict, StrictBool, StrictStr

from ipe_claims import intake
from ipe_claims.application import CASABLANCA
from ipe_claims.domain.motifs import MOTIFS
from services.claim_intake import errors
from services.claim_intake.deps import (
    Caller,
    Db,
    DecimalJSONResponse,
    Employer,
    Store,
    claim_affiliation,
    may_read_claim,
    parse_uuid,
)  # fmt: skip
from services.claim_intake.errors import ApiError

router = APIRouter(prefix="/api/v1/claims")
log = structlog.get_logger()

CLAIM_COLUMNS = (
    "claim_id, immatriculation, cin, nom, prenoms, affiliation_number, motif_code, motif_label, "
    "job_loss_date, situation, situation_date, rejection_code, rejection_reason, monthly_amount, duration_months"
)


class ClaimRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    affiliation_number: StrictStr
    immatriculation: StrictStr
    job_loss_date: StrictStr
    motif_code: StrictStr
    attestation: StrictBool


def _facts(body: ClaimRequest, caller: Any, conn: Db) -> dict[str, Any]:
    today = datetime.now(CASABLANCA).date()
    return intake.validate(conn, intake.Submission(**body.model_dump()), caller.affiliations, today)


def _row(row: dict[str, Any]) -> dict[str, Any]:
    return {**row, "claim_id": str(row["claim_id"]), "job_loss_date": row["job_loss_date"].isoformat(),
            "situation_date": row["situation_date"].isoformat()}  # fmt: skip


@router.post("/preview")
def preview(body: ClaimRequest, caller: Employer, conn: Db) -> dict[str, Any]:
    """What the portal's confirmation dialog shows; creates nothing."""
    facts = _facts(body, caller, conn)
    return {"assure": f"{facts['prenoms']} {facts['nom']}", "immatriculation": facts["immatriculation"],
            "motif_code": facts["motif_code"], "motif_label": MOTIFS[facts["motif_code"]].label_fr,
            "job_loss_date": facts["job_loss_date"].isoformat()}  # fmt: skip


@router.post("", status_code=201)
def submit(body: ClaimRequest, caller: Employer, conn: Db, store: Store,
           idempotency_key: Annotated[str | None, Header(max_length=200)] = None) -> DecimalJSONResponse:  # fmt: skip
    facts = _facts(body, caller, conn)
    claim_id = intake.claim_id_for(caller.username, idempotency_key)
    claim = intake.submit(store, claim_id, facts, caller.username, "http", datetime.now(UTC))
    log.info("claim.submitted", claim_id=str(claim.id), channel="http")
    return DecimalJSONResponse(intake.claim_row(claim), status_code=201)


def _cursor(value: str | None) -> uuid.UUID | None:
    if value is None:
        return None
    try:
        return uuid.UUID(value)
    except ValueError:
        raise ApiError(400, "invalid_cursor", "Curseur invalide.", "مؤشر غير صالح.", "cursor") from None


@router.get("")
def list_claims(caller: Caller, conn: Db, affiliation_number: str | None = None, situation: str | None = None,
                cursor: str | None = None, limit: Annotated[int, Query(ge=1, le=500)] = 100) -> DecimalJSONResponse:  # fmt: skip
    if caller.role not in ("employer", "auditor"):
        raise errors.forbidden()
    scope = None if caller.role == "auditor" else sorted(caller.affiliations)
    rows = conn.execute(
        f"SELECT {CLAIM_COLUMNS} FROM claims WHERE (%(scope)s::text[] IS NULL "
        "OR affiliation_number = ANY(%(scope)s)) AND (%(aff)s::text IS NULL OR affiliation_number = %(aff)s) "
        "AND (%(sit)s::text IS NULL OR situation = %(sit)s) AND (%(after)s::uuid IS NULL OR claim_id > %(after)s) "
        "ORDER BY claim_id LIMIT %(limit)s",
        {
            "scope": scope,
            "aff": affiliation_number,
            "sit": situation,
            "after": _cursor(cursor),
            "limit": limit + 1,
        },
    ).fetchall()
    items = [_row(row) for row in rows[:limit]]
    return DecimalJSONResponse(
        {"items": items, "next_cursor": items[-1]["claim_id"] if len(rows) > limit else None}
    )


@router.get("/{claim_id}")
def get_claim(claim_id: str, caller: Caller, conn: Db) -> DecimalJSONResponse:
    row = conn.execute(
        f"SELECT {CLAIM_COLUMNS} FROM claims WHERE claim_id = %s", (parse_uuid(claim_id),)
    ).fetchone()
    if row is None or not may_read_claim(caller, row["affiliation_number"]):
        raise errors.not_found()
    return DecimalJSONResponse(_row(row))


@router.get("/{claim_id}/notifications")
def notifications(claim_id: str, caller: Caller, conn: Db) -> list[dict[str, Any]]:
    found = conn.execute(
        "SELECT event_id AS message_id, kind, channel, status, subject_fr, subject_ar, created_at "
        "FROM notifications WHERE claim_id = %s ORDER BY created_at, event_id",
        (claim_affiliation(conn, caller, claim_id),),
    ).fetchall()
    return [
        {**n, "message_id": str(n["message_id"]), "created_at": n["created_at"].isoformat()} for n in found
    ]
