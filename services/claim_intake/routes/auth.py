"""Tokens and health."""

from typing import Any

from fastapi import APIRouter
from pydantic import BaseModel, ConfigDict, StrictStr

from ipe_claims.adapters.accounts import issue_token
from services.claim_intake.deps import Config, Db
from services.claim_intake.errors import ApiError

router = APIRouter()


class TokenRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    username: StrictStr
    password: StrictStr


@router.get("/healthz")
def healthz(conn: Db) -> dict[str, str]:
    conn.execute("SELECT 1")
    return {"status": "ok"}


@router.post("/api/v1/auth/token")
def token(body: TokenRequest, conn: Db, settings: Config) -> dict[str, Any]:
    issued = issue_token(conn, body.username, body.password, settings.token_ttl_seconds)
    if issued is None:
        raise ApiError(401, "invalid_credentials", "Identifiant ou mot de passe incorrect.",
                       "اسم المستخدم أو كلمة السر غير صحيحة.")  # fmt: skip
    return {"access_token": issued, "token_type": "bearer", "expires_in": settings.token_ttl_seconds}
