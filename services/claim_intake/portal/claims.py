"""« Nouvelle demande », its form and « Confirmation de la validation »: the API's validation
(``filing.validate``) and the API's submission batches (``Submissions``), so the same refusals in the same
words; a claim filed here is a claim filed over HTTP (channel ``http``), by the session's account."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response
from starlette.concurrency import run_in_threadpool

from ipe_claims.adapters.declared_insured import PostgresDeclarations
from ipe_claims.adapters.portal_sessions import PortalSession
from ipe_claims.application import filing, intake
from ipe_claims.domain.motifs import MOTIFS
from services.claim_intake import access_log, errors
from services.claim_intake.deps import Bearer, Db, Now, request_id
from services.claim_intake.portal import queries, web
from services.claim_intake.submissions import Submissions, submitter

router = APIRouter(prefix=web.PREFIX, include_in_schema=False)


def clean(value: str | None, field: str) -> str | None:
    """A query or form value Postgres can hold (no NUL), else the API's invalid_type refusal."""
    if value is not None and "\x00" in value:
        raise web.PageError(intake.invalid_value(field))
    return value


@router.get("/nouvelle-demande")
def insured_list(request: Request, conn: Db, clock: Now, q: str | None = None) -> Response:
    session, affiliation = web.with_affiliation(request, conn)
    search = (clean(q, "q") or "").strip()[:150] or None
    rows = queries.declared_insured(conn, affiliation, clock.today(), search, queries.MAX_LISTED + 1)
    shown = rows[: queries.MAX_LISTED]
    access_log.record(conn, session.principal, "insured.list", shown, request_id(request))
    return web.render(request, "insured.j2", session=session, insured=shown, search=search or "",
                      more=len(rows) > queries.MAX_LISTED)  # fmt: skip


def _insured(request: Request, conn: Any, session: PortalSession, affiliation: str, immatriculation: str,
             today: Any) -> dict[str, Any]:  # fmt: skip
    person = queries.declared_one(conn, affiliation, clean(immatriculation, "immatriculation") or "", today)
    if person is None:
        raise web.PageError(intake.not_found("immatriculation"))
    access_log.record(conn, session.principal, "insured.read", [person], request_id(request))
    return person


def _form_page(request: Request, session: PortalSession, person: dict[str, Any], today: Any,
               values: dict[str, str], refusal: intake.Refusal | None = None) -> Response:  # fmt: skip
    error = web.message(refusal, web.lang_of(request)) if refusal else None
    return web.render(request, "claim_form.j2", errors.status_of(refusal) if refusal else 200, session=session,
                      person=person, today=today, values=values, motifs=list(MOTIFS.values()), error=error,
                      error_field=refusal.field if refusal else None)  # fmt: skip


@router.get("/nouvelle-demande/{immatriculation}")
def claim_form(request: Request, immatriculation: str, conn: Db, clock: Now, date: str = "",
               motif: str = "") -> Response:  # fmt: skip
    """The creation form; « Non » on the confirmation comes back here with what was entered."""
    session, affiliation = web.with_affiliation(request, conn)
    person = _insured(request, conn, session, affiliation, immatriculation, clock.today())
    values = {"job_loss_date": clean(date, "date") or "", "motif_code": clean(motif, "motif") or ""}
    return _form_page(request, session, person, clock.today(), values)


def _submission(affiliation: str, immatriculation: str, fields: dict[str, str]) -> intake.Submission:
    return intake.Submission(affiliation, immatriculation, fields.get("job_loss_date", ""),
                             fields.get("motif_code", ""), fields.get("attestation") == "on")  # fmt: skip


@router.post("/nouvelle-demande/{immatriculation}")
def check_claim(request: Request, fields: web.Fields, immatriculation: str, conn: Db, clock: Now) -> Response:
    """« Valider »: the API's preview (validate, create nothing), then « Confirmation de la validation »."""
    session, affiliation = web.with_affiliation(request, conn)
    web.check_csrf(session.csrf_token, fields)
    today = clock.today()
    person = _insured(request, conn, session, affiliation, immatriculation, today)
    submission = _submission(affiliation, person["immatriculation"], fields)
    try:
        facts = filing.facts_or_refusal(
            PostgresDeclarations(conn), submitter(session.principal), submission, today
        )
    except intake.Refusal as refusal:
        return _form_page(request, session, person, today, fields, refusal)
    access_log.record(conn, session.principal, "claim.preview", [facts], request_id(request))
    return web.render(request, "confirm.j2", session=session, facts=facts,
                      motif=MOTIFS[facts["motif_code"]], key=web.new_token())  # fmt: skip


def _session_and_person(
    request: Request, immatriculation: str, today: Any
) -> tuple[PortalSession, dict[str, Any]]:
    with request.app.state.pool.connection() as conn:
        session, affiliation = web.with_affiliation(request, conn)
        return session, _insured(request, conn, session, affiliation, immatriculation, today)


@router.post("/demandes")
async def file_claim(request: Request, fields: web.Fields, clock: Now) -> Response:
    """« Oui »: filed in the API's next submission batch. The confirmation's key makes a second click (or a
    resent form) find the claim the first one made rather than a second claim."""
    today = clock.today()
    immatriculation = fields.get("immatriculation", "")
    session, person = await run_in_threadpool(_session_and_person, request, immatriculation, today)
    web.check_csrf(session.csrf_token, fields)
    affiliation = person["affiliation_number"]
    key = clean(fields.get("cle"), "cle")
    claim_id = intake.claim_id_for(session.principal.username, f"portail:{key}" if key else None)
    submissions: Submissions = request.app.state.submissions
    try:
        await submissions.file(Bearer(session.token, session.principal),
                               _submission(affiliation, person["immatriculation"], fields), claim_id,
                               request_id(request))  # fmt: skip
    except intake.Refusal as refusal:
        return _form_page(request, session, person, today, fields, refusal)
    return web.redirect(f"{web.PREFIX}/demandes/{claim_id}?depot=1")
