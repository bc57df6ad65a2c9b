"""Tokens: a bearer token for valid credentials, with failed logins slowed down and then locked, per client
address first (docs/security.md, Failed logins)."""

from typing import Annotated, Any

import structlog
from fastapi import APIRouter, Request
from pydantic import BaseModel, ConfigDict, Field, StrictStr

from ipe_claims.adapters.accounts import Login, issue_token
from services.claim_intake import errors, login_guard
from services.claim_intake.deps import Config
from services.claim_intake.errors import ApiError

router = APIRouter()
log = structlog.get_logger()


class TokenRequest(BaseModel):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [{"username": "demo",
                                                                               "password": "demo-ipe-2026"}]})  # fmt: skip
    username: Annotated[StrictStr, Field(max_length=150, pattern=r"^[^\x00]*$")]
    password: Annotated[StrictStr, Field(max_length=1024)]  # Argon2 of a huge input is a cheap DoS


class TokenResponse(BaseModel):
    access_token: str
    token_type: str
    expires_in: int


@router.post(
    "/api/v1/auth/token",
    response_model=TokenResponse,
    responses=errors.documented(400, 401, 413, 422, 429, 503),
)
def token(body: TokenRequest, request: Request, settings: Config) -> dict[str, Any]:
    """A bearer token. Too many failures from one address, or for an account from one address, make it wait
    and then lock (429 + Retry-After); too many password checks at once answer 503 + Retry-After."""
    login = checked_login(request, body.username, body.password, settings.http.token_ttl_seconds)
    refusal = login_refusal(login)
    if refusal is not None:
        raise refusal
    return {
        "access_token": login.token,
        "token_type": "bearer",
        "expires_in": settings.http.token_ttl_seconds,
    }


def checked_login(request: Request, username: str, password: str, ttl_seconds: int) -> Login:
    """The password check behind the guards every login passes (the API's and the portal's): the client
    address's budget, then a free password-check slot, both before any hashing and before a database
    connection is taken (``login_guard``). Raises the 429 or 503 of a guard."""
    state = request.app.state
    address = login_guard.address_of(request.client.host if request.client else None)
    retry_after = state.login_addresses.take(address)
    if retry_after:
        log.warning("auth.address_throttled", retry_after=retry_after)
        raise ApiError("login_rate_limited", "Trop de tentatives de connexion depuis cette adresse ; patientez.",
                       "محاولات دخول كثيرة من هذا العنوان؛ انتظروا.", None, retry_after=retry_after)  # fmt: skip
    with state.password_checks.slot() as free:
        if not free:
            state.login_addresses.give_back(address)  # not checked: not a failure
            log.warning("auth.checks_saturated")
            raise errors.overloaded()
        with state.pool.connection() as conn:
            login = issue_token(conn, username, password, ttl_seconds, address)
    if login.token is not None:
        state.login_addresses.give_back(address)
    return login


def login_refusal(login: Login) -> ApiError | None:
    """Why a login gave no token (throttled, locked, wrong credentials): the API's and the portal's words."""
    if login.retry_after:
        log.warning("auth.throttled", locked=login.locked, retry_after=login.retry_after)
        if login.locked:
            return ApiError("account_locked", "Trop d'échecs de connexion : compte verrouillé temporairement.",
                            "محاولات فاشلة كثيرة: الحساب مقفل مؤقتا.", "username",
                            retry_after=login.retry_after)  # fmt: skip
        return ApiError("login_throttled", "Trop d'échecs de connexion ; patientez avant de réessayer.",
                        "محاولات فاشلة كثيرة؛ انتظروا قبل إعادة المحاولة.", "username",
                        retry_after=login.retry_after)  # fmt: skip
    if login.token is None:
        return ApiError("invalid_credentials", "Identifiant ou mot de passe incorrect.",
                        "اسم المستخدم أو كلمة السر غير صحيحة.")  # fmt: skip
    return None
