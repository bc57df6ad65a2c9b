"""« historique des demandes » (the seed's columns, filters, the CSV export) and one claim's page: its
decision explained rule by rule, what its dossier still waits for, and what the insured was told."""

from __future__ import annotations

import uuid
from datetime import date
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response

from ipe_claims.adapters.accounts import Principal
from ipe_claims.application import intake
from ipe_claims.application.dossier import dossier_of
from services.claim_intake import access_log, errors
from services.claim_intake.deps import Db, Store, may_read_claim, request_id
from services.claim_intake.portal import web
from services.claim_intake.portal.claims import clean
from services.claim_intake.portal.texts import SITUATIONS
from services.claim_intake.routes.decisions import explanation
from services.claim_intake.routes.history import (
    CSV_MAX_ROWS,
    decode_cursor,
    encode_cursor,
    find_claims,
    to_csv,
)
from services.claim_intake.routes.notifications import deliveries

router = APIRouter(prefix=web.PREFIX, include_in_schema=False)
PAGE = 50


def _filters(situation: str | None, immatriculation: str | None, du: str | None,
             au: str | None) -> tuple[dict[str, Any], intake.Refusal | None]:  # fmt: skip
    """The filters as typed (shown again in the form) and their meaning, or the refusal of a bad one."""
    typed = {"situation": clean(situation, "situation") or "", "immatriculation": clean(immatriculation, "immatriculation") or "",
             "du": clean(du, "du") or "", "au": clean(au, "au") or ""}  # fmt: skip
    first = intake.calendar_date(typed["du"]) if typed["du"] else None
    last = intake.calendar_date(typed["au"]) if typed["au"] else None
    bad = (typed["du"] and first is None) or (typed["au"] and last is None)
    refusal = intake.Refusal("invalid_filter_date", "Date de filtre illisible (AAAA-MM-JJ).",
                             "تاريخ التصفية غير مقروء (YYYY-MM-DD).", "du" if typed["du"] and first is None else "au")  # fmt: skip
    meaning = {"situation": typed["situation"] if typed["situation"] in SITUATIONS else None,
               "immatriculation": typed["immatriculation"].strip() or None, "first": first, "last": last}  # fmt: skip
    return typed | {"_meaning": meaning}, refusal if bad else None


def _claims(conn: Any, principal: Principal, affiliation: str, meaning: dict[str, Any],
            after: Any, limit: int) -> list[dict[str, Any]]:  # fmt: skip
    return find_claims(conn, principal, affiliation, meaning["situation"], meaning["immatriculation"],
                       meaning["first"], meaning["last"], after, limit)  # fmt: skip


@router.get("/demandes")
def history(request: Request, conn: Db, situation: str | None = None, immatriculation: str | None = None,
            du: str | None = None, au: str | None = None, apres: str | None = None) -> Response:  # fmt: skip
    session, affiliation = web.with_affiliation(request, conn)
    typed, refusal = _filters(situation, immatriculation, du, au)
    rows: list[dict[str, Any]] = []
    next_cursor = None
    if refusal is None:
        after = _cursor(apres)
        found = _claims(conn, session.principal, affiliation, typed["_meaning"], after, PAGE + 1)
        rows = found[:PAGE]
        if len(found) > PAGE:
            next_cursor = encode_cursor(rows[-1]["filed_at"], rows[-1]["claim_id"])
        access_log.record(conn, session.principal, "claims.list", rows, request_id(request))
    error = web.message(refusal, web.lang_of(request)) if refusal else None
    query = {key: typed[key] for key in ("situation", "immatriculation", "du", "au") if typed[key]}
    return web.render(request, "history.j2", errors.status_of(refusal) if refusal else 200, session=session, rows=rows,
                      filters=typed, query=query, next_cursor=next_cursor, error=error)  # fmt: skip


def _cursor(apres: str | None) -> Any:
    if not apres:
        return None
    try:
        return decode_cursor(clean(apres, "apres") or "")
    except intake.Refusal as refusal:
        raise web.PageError(refusal) from None


@router.get("/demandes.csv")
def export(request: Request, conn: Db, situation: str | None = None, immatriculation: str | None = None,
           du: str | None = None, au: str | None = None) -> Response:  # fmt: skip
    """The same rows as the page (every page of them, up to the API's export limit), the API's CSV."""
    session, affiliation = web.with_affiliation(request, conn)
    typed, refusal = _filters(situation, immatriculation, du, au)
    if refusal is not None:
        raise web.PageError(refusal)
    rows = _claims(conn, session.principal, affiliation, typed["_meaning"], None, CSV_MAX_ROWS)
    access_log.record(conn, session.principal, "claims.export", rows, request_id(request))
    items = [{**row, "claim_id": str(row["claim_id"])} for row in rows]
    headers = web.HEADERS | {"Content-Disposition": 'attachment; filename="demandes-ipe.csv"'}
    return Response(to_csv(items), media_type="text/csv; charset=utf-8", headers=headers)


@router.get("/demandes/{claim_id}")
def claim_page(request: Request, claim_id: str, conn: Db, store: Store, depot: str | None = None) -> Response:
    session = web.session_of(request, conn)
    try:
        found = uuid.UUID(claim_id)
    except ValueError:
        raise web.PageError(intake.not_found()) from None
    claim = store.find_claim(
        found
    )  # the log, not the read model: the page right after « Oui » shows the claim
    if claim is None or not may_read_claim(session.principal, claim.affiliation_number):
        raise web.PageError(intake.not_found())
    table_row = intake.claim_row(claim)
    row = table_row | {"job_loss_date": claim.job_loss_date,
                       "situation_date": date.fromisoformat(table_row["situation_date"]),
                       "rejection_reason_ar": claim.decision.rejection_reason_ar if claim.decision else None}  # fmt: skip
    explained = explanation(claim, with_figures=False)
    sent = deliveries(conn, found)
    actions = ("claim.read", "claim.decision", "claim.notifications")  # the API's three reads, in one insert
    access_log.insert(conn, [one for action in actions
                             for one in access_log.rows(session.principal, action, [row], request_id(request))])  # fmt: skip
    return web.render(request, "claim.j2", session=session, claim=row, decision=explained,
                      notifications=sent, deposited=bool(depot), dossier=dossier_of(claim))  # fmt: skip
