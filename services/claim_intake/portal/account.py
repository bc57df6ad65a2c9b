"""The portal's door: login with the API's accounts, the language switch, the choice of affiliation (compte
groupe) and « se déconnecter »."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import Response

from ipe_claims.adapters import portal_sessions
from ipe_claims.adapters.accounts import Login, principal_for_token
from ipe_claims.application.intake import not_found
from services.claim_intake import errors
from services.claim_intake.deps import Config, Db
from services.claim_intake.errors import ApiError
from services.claim_intake.portal import web
from services.claim_intake.portal.texts import LANGUAGES, words
from services.claim_intake.routes.auth import checked_login, login_refusal

router = APIRouter(prefix=web.PREFIX, include_in_schema=False)
_LOGIN_FORM_TTL = 3600


@router.get("/")
def home(request: Request, conn: Db) -> Response:
    web.with_affiliation(request, conn)
    return web.redirect(f"{web.PREFIX}/demandes")


@router.get("/connexion")
def login_page(request: Request, deconnecte: str | None = None) -> Response:
    return _login_form(request, notice="session_ended" if deconnecte else None)


def _login_form(request: Request, status: int = 200, error: str | None = None, notice: str | None = None,
                username: str = "") -> Response:  # fmt: skip
    csrf = web.new_token()
    response = web.render(
        request, "login.j2", status, csrf=csrf, error=error, notice=notice, username=username
    )
    web.set_cookie(response, request, web.LOGIN_COOKIE, csrf, _LOGIN_FORM_TTL)
    return response


@router.post("/connexion")
def login(request: Request, fields: web.Fields, conn: Db, settings: Config) -> Response:
    web.check_csrf(request.cookies.get(web.LOGIN_COOKIE), fields)
    username, password = fields.get("username", ""), fields.get("password", "")
    lang = web.lang_of(request)
    readable = 0 < len(username) <= 150 and "\x00" not in username and len(password) <= 1024
    try:
        outcome = (
            checked_login(request, username, password, settings.http.token_ttl_seconds)
            if readable
            else Login(None)
        )
    except ApiError as guarded:  # the address's budget or the password checks at once
        return _login_form(
            request, errors.status_of(guarded), web.message(guarded, lang), username=username[:150]
        )
    refusal = login_refusal(outcome)
    if refusal is not None or outcome.token is None:
        assert refusal is not None
        return _login_form(
            request, errors.status_of(refusal), web.message(refusal, lang), username=username[:150]
        )
    principal = principal_for_token(conn, outcome.token)
    if principal is None or principal.role != "employer":
        portal_sessions.close_session(conn, outcome.token)
        return _login_form(request, 403, words(lang)["employers_only"], username=username)
    portal_sessions.open_session(conn, outcome.token)
    response = web.redirect(f"{web.PREFIX}/")
    web.set_cookie(response, request, web.SESSION_COOKIE, outcome.token, settings.http.token_ttl_seconds)
    web.clear_cookie(response, request, web.LOGIN_COOKIE)
    return response


@router.post("/deconnexion")
def logout(request: Request, fields: web.Fields, conn: Db) -> Response:
    session = web.session_of(request, conn)
    web.check_csrf(session.csrf_token, fields)
    portal_sessions.close_session(conn, session.token)
    response = web.redirect(f"{web.PREFIX}/connexion?deconnecte=1")
    web.clear_cookie(response, request, web.SESSION_COOKIE)
    return response


@router.get("/langue/{lang}")
def language(request: Request, lang: str, suite: str = "/portail/") -> Response:
    """The « العربية » / « Français » switch: a preference, not a secret; back to the page it was clicked on."""
    same_site = suite.startswith(f"{web.PREFIX}/") and "//" not in suite and "\\" not in suite
    response = web.redirect(suite if same_site else f"{web.PREFIX}/")
    if lang in LANGUAGES:
        web.set_cookie(response, request, web.LANG_COOKIE, lang, 365 * 24 * 3600)
    return response


@router.get("/affiliation")
def affiliation_page(request: Request, conn: Db) -> Response:
    session = web.session_of(request, conn)
    return web.render(request, "affiliation.j2", session=session,
                      affiliations=sorted(session.principal.affiliations))  # fmt: skip


@router.post("/affiliation")
def choose_affiliation(request: Request, fields: web.Fields, conn: Db) -> Response:
    session = web.session_of(request, conn)
    web.check_csrf(session.csrf_token, fields)
    chosen = fields.get("affiliation_number", "")
    if chosen not in session.principal.affiliations:
        raise web.PageError(not_found("affiliation_number"))
    portal_sessions.choose_affiliation(conn, session.token, chosen)
    return web.redirect(f"{web.PREFIX}/nouvelle-demande")
