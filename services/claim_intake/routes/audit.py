"""Auditors and analysts: a claim's event history, and the analysts' overview report.

An auditor sees every event with its payload; the employer of the claim's affiliation sees only each
event's type and time (the payloads carry the rules' figures and other accounts' names); anyone else
gets 404, as for the claim itself.
"""

from typing import Annotated, Any

from fastapi import APIRouter, Query, Request

from ipe_claims.analytics.report import PeriodError, overview, parse_period
from ipe_claims.audit.history import claim_history
from services.claim_intake import access_log, errors
from services.claim_intake.deps import (
    Caller,
    DateText,
    Db,
    DecimalJSONResponse,
    Store,
    parse_uuid,
    reads_every_claim,
    request_id,
)

router = APIRouter()
Day = Annotated[DateText | None, Query(description="YYYY-MM-DD (filing date)")]


@router.get("/api/v1/claims/{claim_id}/events", responses=errors.AUTHENTICATED | errors.documented(404))
def claim_events(
    claim_id: str, caller: Caller, conn: Db, store: Store, request: Request
) -> DecimalJSONResponse:
    found = parse_uuid(claim_id)
    history = (
        claim_history(store, conn, found) if caller.role == "employer" or reads_every_claim(caller) else None
    )
    if history is None:
        raise errors.not_found()
    if reads_every_claim(caller):
        access_log.record(conn, caller, "claim.events", [{"claim_id": found, **_shown(history)}],
                          request_id(request))  # fmt: skip
        return DecimalJSONResponse(history)
    if history["affiliation_number"] not in caller.affiliations:
        raise errors.not_found()
    events = [
        {"version": e["version"], "occurred_at": e["occurred_at"], "type": e["type"]}
        for e in history["events"]
    ]
    return DecimalJSONResponse({"claim_id": history["claim_id"], "events": events})


def _shown(history: dict[str, Any]) -> dict[str, Any]:
    first = history["events"][0]["payload"]
    return {
        "affiliation_number": history["affiliation_number"],
        "immatriculation": first.get("immatriculation"),
    }


@router.get("/reports/overview", responses=errors.AUTHENTICATED)
def report_overview(
    caller: Caller, conn: Db, date_from: Day = None, date_to: Day = None
) -> DecimalJSONResponse:
    """The analysts' key tables (from the `analytics` views only: no personal data)."""
    if caller.role not in ("analyst", "auditor", "admin"):
        raise errors.forbidden()
    try:
        period = parse_period(date_from, date_to)
    except PeriodError as exc:
        raise errors.ApiError("invalid_period", str(exc), "الفترة غير صالحة.", exc.field) from None
    return DecimalJSONResponse(overview(conn, period))
