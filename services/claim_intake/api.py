"""The intake HTTP API (FastAPI; OpenAPI at /docs and /redoc, their assets served by the API itself): the app,
its lifespan and its routers.

Routers are thin: authenticate (deps), validate and submit (ipe_claims.application.intake), read the read models.
A new area of the API is a module in ``routes/`` and one ``include_router`` line here.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from fastapi_offline import FastAPIOffline
from psycopg.rows import dict_row
from psycopg_pool import ConnectionPool

from ipe_claims.application.claims import ClaimsApplication
from ipe_claims.application.clock import Clock
from ipe_claims.settings import Settings
from services.claim_intake import errors, limits, login_guard, portal
from services.claim_intake.deps import DecimalJSONResponse, Tokens
from services.claim_intake.edge import Edge
from services.claim_intake.routes import audit as audit_routes
from services.claim_intake.routes import auth, claims, decisions, dossier, history, reference
from services.claim_intake.routes import health as health_route
from services.claim_intake.routes import metrics as metrics_route
from services.claim_intake.routes import notifications as notifications_route
from services.claim_intake.routes import payments as payments_route
from services.claim_intake.routes import review as review_route
from services.claim_intake.submissions import Submissions

DOCS_ASSETS = "/docs-assets"
DESCRIPTION = (
    "Intake of IPE claims (Indemnité pour Perte d'Emploi). Get a bearer token from `POST /api/v1/auth/token`, "
    "then send it as `Authorization: Bearer <token>` (« Authorize » above). Every refusal has one body: "
    '`{"error": {"code", "message_fr", "message_ar", "field"}}`.'
)


def create_app(
    settings: Settings, store: ClaimsApplication | None = None, clock: Clock | None = None
) -> FastAPI:
    """The API; ``clock`` (default: the settings' clock) is where every route reads today from."""

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        app.state.pool.open(wait=True, timeout=30)
        if app.state.store is None:
            from ipe_claims.adapters.event_store import make_app

            app.state.store = make_app(settings)
        app.state.submissions = Submissions(
            app.state.store, app.state.pool, app.state.tokens, app.state.clock
        )
        yield
        app.state.submissions.close()
        app.state.pool.close()

    # /docs and /redoc load Swagger UI and ReDoc from the fastapi-offline wheel, under /docs-assets: no CDN,
    # so they work on a machine without internet (docs/api.md, OpenAPI).
    app = FastAPIOffline(title="ipe-claims intake", version="1", lifespan=lifespan, static_url=DOCS_ASSETS,
                         description=DESCRIPTION, default_response_class=DecimalJSONResponse,
                         responses=errors.ANY_ROUTE)  # fmt: skip
    app.state.settings = settings
    app.state.store = store
    app.state.clock = clock or settings.clock()
    app.state.limiter = limits.Limiter(settings.http.rate_limit_per_minute)
    app.state.tokens = Tokens()
    app.state.login_addresses = login_guard.AddressLimiter(settings.login.attempts_per_address_per_minute)
    app.state.password_checks = login_guard.PasswordChecks(settings.login.max_password_checks)
    app.state.pool = ConnectionPool(settings.database.url, min_size=1, max_size=20, open=False,
                                    kwargs={"row_factory": dict_row, "autocommit": True})  # fmt: skip
    errors.install(app)
    app.add_middleware(
        Edge, max_in_flight=settings.http.max_in_flight
    )  # request id, body limit, metrics, one log line per request
    app.include_router(health_route.router)
    app.include_router(auth.router)
    app.include_router(reference.router)
    app.include_router(history.router)
    app.include_router(metrics_route.router)
    app.include_router(claims.router)
    app.include_router(notifications_route.router)
    app.include_router(decisions.router)
    app.include_router(dossier.router)
    app.include_router(payments_route.router)
    app.include_router(audit_routes.router)
    app.include_router(review_route.router)
    portal.install(app)
    return app
