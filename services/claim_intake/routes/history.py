"""The portal's history of claims (historique des demandes): filtered, paged newest first, or exported
as CSV with the seed's headings. Every row shown is written to the access log."""

import base64
import binascii
import csv
import io
import uuid
from datetime import date, datetime, time, timedelta
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Header, Query, Request
from fastapi.responses import Response
from pydantic import BaseModel

from ipe_claims.adapters.accounts import Principal
from ipe_claims.application.intake import calendar_date
from ipe_claims.domain.dates import CASABLANCA
from services.claim_intake import access_log, errors
from services.claim_intake.csv_cells import cell
from services.claim_intake.deps import (
    ClaimReader,
    DateText,
    Db,
    DecimalJSONResponse,
    reads_every_claim,
    request_id,
)
from services.claim_intake.errors import ApiError
from services.claim_intake.routes.claims import CLAIM_COLUMNS, ClaimOut, _row

router = APIRouter(prefix="/api/v1/claims")

# The seed's table, in its order; "Identification" is the insured's immatriculation, "C.I.R." the CIN,
# "Numero Affecté" the claim's number (docs/api.md).
CSV_COLUMNS = {
    "Identification": "immatriculation", "C.I.R.": "cin", "Nom": "nom", "Prénoms": "prenoms",
    "Numero Affecté": "claim_id", "Motif Perte Emploi": "motif_label", "Date Perte Emploi": "job_loss_date",
    "Situation": "situation", "Date situation": "situation_date", "Motif Rejet": "rejection_reason",
}  # fmt: skip
CSV_MAX_ROWS = 10_000
_PORTAL_ONLY = ("filed_at", "rejection_reason_ar")  # read by find_claims, not in the API's rows
TEXT = r"^[^\x00]*$"  # Postgres text cannot hold NUL: such a value is refused as a wrong type


class ClaimPage(BaseModel):
    items: list[ClaimOut]
    next_cursor: str | None


def _bad(field: str, code: str = "invalid_type") -> ApiError:
    return ApiError(code, f"Valeur invalide pour {field}.", f"قيمة غير صالحة في {field}.", field)


def encode_cursor(filed_at: datetime, claim_id: uuid.UUID) -> str:
    return base64.urlsafe_b64encode(f"{filed_at.isoformat()}|{claim_id}".encode()).decode().rstrip("=")


def decode_cursor(value: str) -> tuple[datetime, uuid.UUID]:
    """The (filed_at, claim_id) of the last row shown; anything else is an invalid cursor."""
    try:
        text = base64.urlsafe_b64decode(value + "=" * (-len(value) % 4)).decode()
        moment, _, claim_id = text.partition("|")
        filed_at = datetime.fromisoformat(moment)
        if filed_at.tzinfo is None:
            raise ValueError(moment)
        return filed_at, uuid.UUID(claim_id)
    except (ValueError, binascii.Error, UnicodeDecodeError):
        raise _bad("cursor", "invalid_cursor") from None


def _day(value: str | None, field: str) -> date | None:
    if value is None:
        return None
    day = calendar_date(value)
    if day is None:
        raise _bad(field)
    return day


def _start_of(day: date | None) -> datetime | None:
    return datetime.combine(day, time(), CASABLANCA) if day else None


def _end_of(day: date | None) -> datetime | None:
    """The first instant after ``day``; no bound at all after the calendar's last day (9999-12-31)."""
    return _start_of(day + timedelta(days=1)) if day and day < date.max else None


def find_claims(conn: Any, caller: Principal, affiliation_number: str | None, situation: str | None,
                immatriculation: str | None, first: date | None, last: date | None,
                after: tuple[datetime, uuid.UUID] | None, limit: int) -> list[dict[str, Any]]:  # fmt: skip
    """Claims the caller may read (filed between ``first`` and ``last`` included, after the ``after`` cursor),
    newest filing first, each with its ``filed_at`` and ``rejection_reason_ar``: the API's history and the
    portal's."""
    rows: list[dict[str, Any]] = conn.execute(
        f"SELECT {CLAIM_COLUMNS}, rejection_reason_ar, filed_at FROM claims WHERE (%(scope)s::text[] IS NULL "
        "OR affiliation_number = ANY(%(scope)s)) AND (%(aff)s::text IS NULL OR affiliation_number = %(aff)s) "
        "AND (%(sit)s::text IS NULL OR situation = %(sit)s) "
        "AND (%(imm)s::text IS NULL OR immatriculation = %(imm)s) "
        "AND (%(lo)s::timestamptz IS NULL OR filed_at >= %(lo)s) "
        "AND (%(hi)s::timestamptz IS NULL OR filed_at < %(hi)s) "
        "AND (%(after_at)s::timestamptz IS NULL OR (filed_at, claim_id) < (%(after_at)s, %(after_id)s::uuid)) "
        "ORDER BY filed_at DESC, claim_id DESC LIMIT %(limit)s",
        {
            "scope": None if reads_every_claim(caller) else sorted(caller.affiliations),
            "aff": affiliation_number,
            "sit": situation,
            "imm": immatriculation,
            "lo": _start_of(first),
            "hi": _end_of(last),
            "after_at": after[0] if after else None,
            "after_id": after[1] if after else None,
            "limit": limit,
        },
    ).fetchall()
    return rows


@router.get(
    "",
    response_model=ClaimPage,
    responses=errors.AUTHENTICATED | {200: {"content": {"text/csv": {"schema": {"type": "string"}}}}},
)
def list_claims(
    caller: ClaimReader,
    conn: Db,
    request: Request,
    affiliation_number: Annotated[str | None, Query(pattern=TEXT)] = None,
    situation: Literal["En cours", "Valable", "Rejeté"] | None = None,
    immatriculation: Annotated[str | None, Query(pattern=TEXT)] = None,
    from_: Annotated[
        DateText | None, Query(alias="from", description="filed on or after, YYYY-MM-DD")
    ] = None,
    to: Annotated[DateText | None, Query(description="filed on or before, YYYY-MM-DD")] = None,
    cursor: str | None = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
    accept: Annotated[str | None, Header()] = None,
) -> Response:
    """Claims the caller may read, newest filing first. ``Accept: text/csv`` exports every matching row."""
    as_csv = "text/csv" in (accept or "")
    after = decode_cursor(cursor) if cursor else None
    first, last = _day(from_, "query.from"), _day(to, "query.to")
    page = CSV_MAX_ROWS if as_csv else limit
    rows = find_claims(
        conn, caller, affiliation_number, situation, immatriculation, first, last, after, page + 1
    )
    shown, more = rows[:page], len(rows) > page
    next_cursor = encode_cursor(shown[-1]["filed_at"], shown[-1]["claim_id"]) if more else None
    access_log.record(conn, caller, "claims.export" if as_csv else "claims.list", shown, request_id(request))
    items = [_row({k: v for k, v in row.items() if k not in _PORTAL_ONLY}) for row in shown]
    if as_csv:
        headers = {"Content-Disposition": 'attachment; filename="demandes-ipe.csv"'}
        if next_cursor:
            headers["X-Next-Cursor"] = next_cursor
        return Response(to_csv(items), media_type="text/csv; charset=utf-8", headers=headers)
    return DecimalJSONResponse({"items": items, "next_cursor": next_cursor})


def to_csv(items: list[dict[str, Any]]) -> str:
    """UTF-8 with a byte-order mark, so spreadsheet software reads the accents of the headings; every cell
    quoted, and none that a spreadsheet would run as a formula (``csv_cells``)."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n", quoting=csv.QUOTE_ALL)
    writer.writerow(CSV_COLUMNS)
    for item in items:
        writer.writerow([cell(item[key]) for key in CSV_COLUMNS.values()])
    return "\ufeff" + out.getvalue()
