"""What every portal page shares: the language, the cookies, the session, CSRF, rendering and headers.

Cookies are HTTP-only, SameSite=Strict, limited to ``/portail`` and Secure — except on plain http to a
loopback address (a developer's machine, the browser tests), where a Secure cookie would never come back.
Every POST carries the session's synchronizer token (``csrf``); the login form, before any session, a
token equal to a short-lived cookie of its own.
"""

import secrets
from typing import Annotated, Any
from urllib.parse import parse_qsl

import psycopg
from fastapi import Depends, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from jinja2 import Environment, PackageLoader, StrictUndefined

from ipe_claims.adapters.portal_sessions import PortalSession, find_session
from ipe_claims.application.intake import Refusal
from ipe_claims.domain.motifs import MOTIFS
from services.claim_intake import errors
from services.claim_intake.portal.texts import COLUMNS, LANGUAGES, SITUATIONS, pick, words

PREFIX = "/portail"
SESSION_COOKIE = "ipe_portail"
LOGIN_COOKIE = "ipe_portail_connexion"  # the login form's CSRF token, before a session exists
LANG_COOKIE = "ipe_langue"
_LOOPBACK = ("127.0.0.1", "::1", "localhost")
HEADERS = {
    "Cache-Control": "no-store",  # personal data: no copy in the browser's or a proxy's cache
    "Content-Security-Policy": "default-src 'self'; frame-ancestors 'none'; form-action 'self'",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
}
env = Environment(
    loader=PackageLoader("services.claim_intake.portal", "templates"),
    autoescape=True,
    undefined=StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
)

env.filters["dmy"] = lambda day: day.strftime("%d/%m/%Y") if day else ""  # the seed's dates: JJ/MM/AAAA


class PageError(Exception):
    """A refusal shown as a page (the API's refusal: same code, same two messages)."""

    def __init__(self, refusal: Refusal) -> None:
        super().__init__(refusal.code)
        self.refusal = refusal


class LoginRequired(Exception):
    """No live session: the browser goes to the login page."""


def lang_of(request: Request) -> str:
    chosen = request.cookies.get(LANG_COOKIE, "fr")
    return chosen if chosen in LANGUAGES else "fr"


def secure_cookies(request: Request) -> bool:
    return request.url.scheme == "https" or request.url.hostname not in _LOOPBACK


def set_cookie(response: Response, request: Request, name: str, value: str, max_age: int | None) -> None:
    response.set_cookie(name, value, max_age=max_age, path=PREFIX, secure=secure_cookies(request),
                        httponly=True, samesite="strict")  # fmt: skip


def clear_cookie(response: Response, request: Request, name: str) -> None:
    response.delete_cookie(
        name, path=PREFIX, secure=secure_cookies(request), httponly=True, samesite="strict"
    )


def render(request: Request, template: str, status: int = 200, **context: Any) -> HTMLResponse:
    lang = lang_of(request)
    html = env.get_template(template).render(
        lang=lang,
        dir="rtl" if lang == "ar" else "ltr",
        t=words(lang),
        path=request.url.path,
        columns=COLUMNS,
        situations=SITUATIONS,
        motif_label=lambda code: pick((MOTIFS[code].label_fr, MOTIFS[code].label_ar), lang),
        **context,
    )
    return HTMLResponse(html, status_code=status, headers=HEADERS)


def redirect(url: str) -> RedirectResponse:
    return RedirectResponse(url, status_code=303, headers=HEADERS)


def message(refusal: Refusal, lang: str) -> str:
    return refusal.message_ar if lang == "ar" else refusal.message_fr


async def _form(request: Request) -> dict[str, str]:
    """An urlencoded form, first value of each field (no multipart: the portal sends none). A dependency,
    so that the routes that read it stay sync and query Postgres off the event loop."""
    text = (await request.body()).decode("utf-8", errors="replace")
    fields: dict[str, str] = {}
    for name, value in parse_qsl(text, keep_blank_values=True):
        fields.setdefault(name, value)
    return fields


Fields = Annotated[dict[str, str], Depends(_form)]


def csrf_refused() -> PageError:
    return PageError(Refusal("csrf_failed", words("fr")["csrf"], words("ar")["csrf"], "csrf"))


def check_csrf(expected: str | None, fields: dict[str, str]) -> None:
    given = fields.get("csrf", "")
    if not expected or not secrets.compare_digest(given.encode(), expected.encode()):
        raise csrf_refused()


def session_of(request: Request, conn: psycopg.Connection[Any]) -> PortalSession:
    """The live session of an employer, counted against the account's rate limit like an API call."""
    token = request.cookies.get(SESSION_COOKIE)
    found = find_session(conn, token) if token and "\x00" not in token else None
    if found is None:
        raise LoginRequired
    retry_after = request.app.state.limiter.count(conn, found.principal.username)
    if retry_after:
        raise PageError(errors.rate_limited(retry_after))
    return found


def with_affiliation(request: Request, conn: psycopg.Connection[Any]) -> tuple[PortalSession, str]:
    """A session that has chosen its affiliation; else the choice page first."""
    session = session_of(request, conn)
    if session.affiliation_number is None:
        raise ChooseAffiliation
    return session, session.affiliation_number


class ChooseAffiliation(Exception):
    """A compte groupe has not chosen the affiliation yet."""


def new_token() -> str:
    return secrets.token_urlsafe(32)
