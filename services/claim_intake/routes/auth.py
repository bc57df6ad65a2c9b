"""Tokens: a bearer token for valid credentials, with failed logins slowed down and then locked."""

from typing import Annotated, Any

import structlog
from fastapi import APIRouter
from pydantic import BaseModel, ConfigDict, Field, StrictStr

from ipe_claims.adapters.accounts import Login, issue_token
from services.claim_intake import errors
from services.claim_intake.deps import Config, Db
from services.claim_intake.errors import ApiError

router = APIRouter()
log = structlog.get_logger()


class TokenRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    username: Annotated[StrictStr, Field(max_length=150, pattern=r"^[^\x00]*$")]
    password: Annotated[StrictStr, Field(max_length=1024)]  # Argon2 of a huge input is a cheap DoS


class TokenResponse(BaseModel):
    access_token: str
    token_type: str
    expires_in: int


@router.post(
    "/api/v1/auth/token", response_model=TokenResponse, responses=errors.documented(400, 401, 413, 422, 429)
)
def token(body: TokenRequest, conn: Db, settings: Config) -> dict[str, Any]:
    """A bearer token. Repeated failures for a username make it wait, then lock it (429 + Retry-After)."""
    login = issue_token(conn, body.username, body.password, settings.token_ttl_seconds)
    refusal = login_refusal(login)
    if refusal is not None:
        raise refusal
    return {"access_token": login.token, "token_type": "bearer", "expires_in": settings.token_ttl_seconds}


def login_refusal(login: Login) -> ApiError | None:
    """Why a login gave no token (throttled, locked, wrong credentials): the API's and the portal's words."""
    if login.retry_after:
        log.warning("auth.throttled", locked=login.locked, retry_after=login.retry_after)
        if login.locked:
            return ApiError(429, "account_locked", "Trop d'échecs de connexion : compte verrouillé temporairement.",
                            "محاولات فاشلة كثيرة: الحساب مقفل مؤقتا.", "username",
                            headers={"Retry-After": str(login.retry_after)})  # fmt: skip
        return ApiError(429, "login_throttled", "Trop d'échecs de connexion ; patientez avant de réessayer.",
                        "محاولات فاشلة كثيرة؛ انتظروا قبل إعادة المحاولة.", "username",
                        headers={"Retry-After": str(login.retry_after)})  # fmt: skip
    if login.token is None:
        return ApiError(401, "invalid_credentials", "Identifiant ou mot de passe incorrect.",
                        "اسم المستخدم أو كلمة السر غير صحيحة.")  # fmt: skip
    return None
