"""FastAPI dependencies shared by the routers: the database, the event store, the caller and its role.

Everything hangs off ``app.state`` (set by ``create_app``), so routers are plain modules and nothing
connects at import time. No `from __future__ import annotations`: FastAPI reads these at runtime.
"""

import hashlib
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Annotated, Any

import psycopg
import simplejson
import structlog
from fastapi import Depends, Request
from fastapi.responses import JSONResponse
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from psycopg_pool import ConnectionPool
from pydantic import WithJsonSchema
from starlette.concurrency import run_in_threadpool

from ipe_claims.adapters.accounts import Principal, principal_for_token
from ipe_claims.application.claims import ClaimsApplication
from ipe_claims.application.clock import Clock
from ipe_claims.settings import Settings
from services.claim_intake import errors, limits


class DecimalJSONResponse(JSONResponse):
    """Amounts are Decimals; they go out as JSON numbers with their two decimals (1152.90).

    Routes that carry amounts return this response themselves: a returned dict goes through FastAPI's
    own encoding first, which turns a Decimal into a string ("1152.90") or a float (1152.9).
    """

    def render(self, content: Any) -> bytes:
        text: str = simplejson.dumps(content, use_decimal=True, ensure_ascii=False, default=str)
        return text.encode()


def _db(request: Request) -> Iterator[psycopg.Connection[Any]]:
    with request.app.state.pool.connection() as conn:
        yield conn


async def _store(request: Request) -> ClaimsApplication:
    store: ClaimsApplication = request.app.state.store
    return store


async def _settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


async def _clock(request: Request) -> Clock:
    clock: Clock = request.app.state.clock
    return clock


Db = Annotated[psycopg.Connection[Any], Depends(_db)]
# A date read as text, so that a bad one gets the route's own bilingual refusal, declared as one in the OpenAPI.
DateText = Annotated[str, WithJsonSchema({"type": "string", "format": "date"})]
Now = Annotated[Clock, Depends(_clock)]
Store = Annotated[ClaimsApplication, Depends(_store)]
Config = Annotated[Settings, Depends(_settings)]


# The OpenAPI's one security scheme ("bearer"), on every operation that needs a token. It does not refuse by
# itself (auto_error=False): a missing or malformed header gets the API's bilingual 401 below.
_BEARER = HTTPBearer(
    scheme_name="bearer", bearerFormat="opaque", auto_error=False,
    description="A token from POST /api/v1/auth/token, sent as `Authorization: Bearer <token>`.",
)  # fmt: skip
Credentials = Annotated[HTTPAuthorizationCredentials | None, Depends(_BEARER)]


def _bearer_token(credentials: HTTPAuthorizationCredentials | None) -> str:
    token = credentials.credentials.strip() if credentials is not None else ""
    if not token:
        raise errors.unauthorized()
    return token


def _principal(conn: Db, request: Request, credentials: Credentials) -> Principal:
    found = principal_for_token(conn, _bearer_token(credentials))
    if found is None:
        raise errors.unauthorized()
    structlog.contextvars.bind_contextvars(account=found.username)
    retry_after = request.app.state.limiter.count(conn, found.username)
    if retry_after:
        raise errors.rate_limited(retry_after)
    return found


Caller = Annotated[Principal, Depends(_principal)]


async def _employer(caller: Caller) -> Principal:
    if caller.role != "employer":
        raise errors.forbidden()
    return caller


Employer = Annotated[Principal, Depends(_employer)]


class Tokens:
    """Bearer token → account, remembered ``ttl`` seconds, for the claim submission: its authentication then
    costs no round trip of its own. It is never the last word: the submission reads the token again in the
    round trip of its own reads (``verified``), so a disabled account or an expired token is refused at once,
    and the entry is dropped or refreshed."""

    def __init__(self, ttl: float = 10.0, size: int = 10_000) -> None:
        self.ttl = ttl
        self.size = size
        self._entries: dict[bytes, tuple[float, Principal]] = {}
        self._lock = threading.Lock()

    @staticmethod
    def _key(token: str) -> bytes:
        return hashlib.sha256(token.encode()).digest()

    def get(self, token: str) -> Principal | None:
        entry = self._entries.get(self._key(token))
        return entry[1] if entry is not None and entry[0] > time.monotonic() else None

    def put(self, token: str, principal: Principal) -> None:
        now = time.monotonic()
        with self._lock:
            if len(self._entries) >= self.size:
                self._entries = {key: entry for key, entry in self._entries.items() if entry[0] > now}
                if len(self._entries) >= self.size:
                    self._entries.clear()
            self._entries[self._key(token)] = (now + self.ttl, principal)

    def forget(self, token: str) -> None:
        with self._lock:
            self._entries.pop(self._key(token), None)


@dataclass(frozen=True)
class Bearer:
    """A submitter as its token said (maybe from the cache) and the token, to read again."""

    token: str
    principal: Principal


def _lookup(pool: ConnectionPool[Any], token: str) -> Principal | None:
    with pool.connection() as conn:
        return principal_for_token(conn, token)


def _count(pool: ConnectionPool[Any], limiter: limits.Limiter, username: str) -> int:
    with pool.connection() as conn:
        return limiter.count(conn, username)


async def _submitter(request: Request, credentials: Credentials) -> Bearer:
    """``Employer`` for the claim submission, without a thread or a round trip when the token and the
    account's rate lease are in memory (same answers, same order: 401, 429, 403)."""
    state = request.app.state
    token = _bearer_token(credentials)
    found = state.tokens.get(token)
    if found is None:
        found = await run_in_threadpool(_lookup, state.pool, token)
        if found is None:
            raise errors.unauthorized()
        state.tokens.put(token, found)
    structlog.contextvars.bind_contextvars(account=found.username)
    retry_after = state.limiter.count_locally(found.username)
    if retry_after is None:
        retry_after = await run_in_threadpool(_count, state.pool, state.limiter, found.username)
    if retry_after:
        raise errors.rate_limited(retry_after)
    if found.role != "employer":
        raise errors.forbidden()
    return Bearer(token, found)


Submitter = Annotated[Bearer, Depends(_submitter)]


def verified(tokens: Tokens, bearer: Bearer, current: Principal | None) -> Principal:
    """The submitter as the database says now (``principal_for_token`` read with the submission's lookups)."""
    if current is None:
        tokens.forget(bearer.token)
        raise errors.unauthorized()
    if current != bearer.principal:
        tokens.put(bearer.token, current)
    if current.role != "employer":
        raise errors.forbidden()
    return current


async def _claim_reader(caller: Caller) -> Principal:
    """Who reads claims and their personal data: employers (their own), auditors and agents (all)."""
    if caller.role not in ("employer", "auditor", "agent"):
        raise errors.forbidden()
    return caller


ClaimReader = Annotated[Principal, Depends(_claim_reader)]


async def _agent(caller: Caller) -> Principal:
    """A CNSS agent (role ``agent``, bound to an agency): records dossier pieces, rules on reviews."""
    if caller.role != "agent" or not caller.agency:
        raise errors.forbidden()
    return caller


Agent = Annotated[Principal, Depends(_agent)]


def request_id(request: Request) -> str | None:
    return getattr(request.state, "request_id", None)


def reads_every_claim(caller: Principal) -> bool:
    """The fund's staff who instruct or audit claims: auditors and agents see all of a claim, on record."""
    return caller.role in ("auditor", "agent")


def may_read_claim(caller: Principal, affiliation_number: str) -> bool:
    """Auditors and agents (who instruct claims nationally; their agency is recorded with each action)
    read every claim; an employer only those of its own affiliations."""
    return reads_every_claim(caller) or (
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
