"""Every refusal has one body: {"error": {"code", "message_fr", "message_ar", "field"}}."""

from __future__ import annotations

from typing import Any

import structlog
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from ipe_claims.intake import Refusal, not_found

__all__ = ["ApiError", "Refusal", "error_response", "forbidden", "install", "not_found", "unauthorized"]


ApiError = Refusal  # the HTTP name of the intake's refusal


def error_response(refusal: Refusal) -> JSONResponse:
    body = {"error": {"code": refusal.code, "message_fr": refusal.message_fr, "message_ar": refusal.message_ar,
                      "field": refusal.field}}  # fmt: skip
    return JSONResponse(body, status_code=refusal.status, headers=refusal.headers)


def unauthorized() -> ApiError:
    return ApiError(
        401,
        "unauthorized",
        "Jeton absent, invalide ou expiré.",
        "رمز الولوج غير موجود أو غير صالح أو منتهي الصلاحية.",
        headers={"WWW-Authenticate": "Bearer"},
    )


def forbidden() -> ApiError:
    return ApiError(
        403, "forbidden", "Votre rôle ne permet pas cette opération.", "دوركم لا يسمح بهذه العملية."
    )


def _validation_error(exc: RequestValidationError) -> ApiError:
    first: dict[str, Any] = exc.errors()[0] if exc.errors() else {}
    location = [str(part) for part in first.get("loc", ()) if part != "body"]
    field = ".".join(location) or None
    kind = first.get("type", "")
    if kind == "json_invalid" or (kind in ("model_attributes_type", "missing") and not location):
        return ApiError(
            400,
            "malformed_json",
            "Le corps de la requête n'est pas un objet JSON valide.",
            "محتوى الطلب ليس كائن JSON صالحا.",
        )
    if kind == "extra_forbidden":
        return ApiError(422, "unknown_field", f"Champ inconnu : {field}.", f"حقل غير معروف: {field}.", field)
    if kind == "missing":
        return ApiError(
            422, "missing_field", f"Champ obligatoire absent : {field}.", f"حقل إلزامي ناقص: {field}.", field
        )
    return ApiError(
        400,
        "invalid_type",
        f"Type de valeur invalide pour {field}.",
        f"نوع القيمة غير صالح في {field}.",
        field,
    )


def install(app: FastAPI) -> None:
    @app.exception_handler(Refusal)
    async def _refusal(_: Request, exc: Refusal) -> JSONResponse:
        return error_response(exc)

    @app.exception_handler(RequestValidationError)
    async def _invalid(_: Request, exc: RequestValidationError) -> JSONResponse:
        return error_response(_validation_error(exc))

    @app.exception_handler(Exception)
    async def _unexpected(_: Request, exc: Exception) -> JSONResponse:
        structlog.get_logger().exception("api.unexpected_error", error=type(exc).__name__)
        return error_response(
            ApiError(
                500,
                "internal_error",
                "Erreur interne ; la demande n'a pas été enregistrée si elle n'a pas reçu de réponse 201.",
                "خطأ داخلي.",
            )
        )

    @app.exception_handler(StarletteHTTPException)
    async def _http(_: Request, exc: StarletteHTTPException) -> JSONResponse:
        code = {404: "not_found", 405: "method_not_allowed"}.get(exc.status_code, "http_error")
        return error_response(ApiError(exc.status_code, code, str(exc.detail), str(exc.detail)))
