"""The employer portal (seed 000's screens) as server-rendered pages under ``/portail/``, served by the API
process and calling the API's own services (docs/portal.md)."""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI, Request
from fastapi.responses import Response
from fastapi.staticfiles import StaticFiles

from services.claim_intake import errors
from services.claim_intake.portal import account, claims, history, web

STATIC = Path(__file__).parent / "static"


def install(app: FastAPI) -> None:
    """The portal's routes, its stylesheet and how its refusals become pages."""
    app.include_router(account.router)
    app.include_router(claims.router)
    app.include_router(history.router)
    app.mount(f"{web.PREFIX}/static", StaticFiles(directory=STATIC), name="portail-static")

    @app.exception_handler(web.LoginRequired)
    async def _login(request: Request, _: web.LoginRequired) -> Response:
        return web.redirect(f"{web.PREFIX}/connexion")

    @app.exception_handler(web.ChooseAffiliation)
    async def _choose(request: Request, _: web.ChooseAffiliation) -> Response:
        return web.redirect(f"{web.PREFIX}/affiliation")

    @app.exception_handler(web.PageError)
    async def _page(request: Request, exc: web.PageError) -> Response:
        refusal = exc.refusal
        response = web.render(
            request, "error.j2", errors.status_of(refusal), error=web.message(refusal, web.lang_of(request))
        )
        response.headers.update(errors.headers_of(refusal) or {})
        return response
