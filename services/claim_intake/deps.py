"""FastAPI dependencies shared by the routers: the database, the event store, the caller and its role.

Everything hangs off ``app.state`` (set by ``create_app``), so routers are plain modules and nothing
connects at import time. No `from __future__ import annotations`: FastAPI reads these at runtime.
"""

import uuid
from collections.abc import Iterator
from typing import Annotated, Any

import psycopg
import simplejson
import structlog
from fastapi import Depends, Header, Request
from fastapi.responses import JSONResponse

from ipe_claims.adapters.accounts import Principal, principal_for_token
from ipe_claims.application import ClaimsApplication
from ipe_claims.settings import Settings
from services.claim_intake import errors, limits


class DecimalJSONResponse(JSONResponse):
    """Amounts are Decimals; they go out as JSON numbers with their two decimals (1152.90).

    Routes that carry amounts return this response themselves: a returned dict goes through FastAPI's
    own encoding first, which turns a Decimal into a string ("1152.90") or a float (1152.9).
    """

    def render(self, content: Any) -> bytes:
        return simplejson.dumps(content, use_decimal=True, ensure_ascii=False, default=str).encode()


def _db(request: Request) -> Iterator[psycopg.Connection[Any]]:
    with request.app.state.pool.connection() as conn:
        yield conn


def _store(request: Request) -> ClaimsApplication:
    return request.app.state.store  # type: ignore[no-any-return]


def _settings(request: Request) -> Settings:
    return request.app.state.settings  # type: ignore[no-any-return]


Db = Annotated[psycopg.Connection[Any], Depends(_db)]
Store = Annotated[ClaimsApplication, Depends(_store)]
Config = Annotated[Settings, Depends(_settings)]


def _principal(
    conn: Db, settings: Config, authorization: Annotated[str | None, Header()] = None
) -> Principal:
    scheme, _, token = (authorization or "").partition(" ")
    if scheme.lower() != "bearer" or not token:
        raise errors.unauthorized()
    found = principal_for_token(conn, token.strip())
    if found is None:
        raise errors.unauthorized()
    structlog.contextvars.bind_contextvars(account=found.username)
    retry_after = limits.over_limit(conn, found.username, settings.rate_limit_per_minute)
    if retry_after:
        raise errors.rate_limited(retry_after)
    return found


Caller = Annotated[Principal, Depends(_principal)]


def _employer(caller: Caller) -> Principal:
    if caller.role != "employer":
        raise errors.forbidden()
    return caller


Employer = Annotated[Principal, Depends(_employer)]


def _claim_reader(caller: Caller) -> Principal:
    """Who reads claims and their personal data: employers (their own) and auditors (all)."""
    if caller.role not in ("employer", "auditor"):
        raise errors.forbidden()
    return caller


ClaimReader = Annotated[Principal, Depends(_claim_reader)]


def request_id(request: Request) -> str | None:
    return getattr(request.state, "request_id", None)


def may_read_claim(caller: Principal, affiliation_number: str) -> bool:
    """Auditors read every claim; an employer only those of its own affiliations."""
    return caller.role == "auditor" or (
        caller.role == "employer" and affiliation_number in caller.affiliations
    )


def parse_uuid(value: str) -> uuid.UUID:
    """A path id; anything that is not a UUID is simply not found."""
    try:
        return uuid.UUID(value)
    except ValueError:
        raise errors.not_found() from None


def claim_affiliation(conn: psycopg.Connection[Any], caller: Principal, claim_id: str) -> uuid.UUID:
    """The claim's id if the caller may read it, else 404 (no enumeration of other employers' claims)."""
    found = parse_uuid(claim_id)
    row = conn.execute("SELECT affiliation_number FROM claims WHERE claim_id = %s", (found,)).fetchone()
    if row is None or not may_read_claim(caller, row["affiliation_number"]):
        raise errors.not_found()
    return found
