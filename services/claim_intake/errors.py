"""Every refusal has one body: {"error": {"code", "message_fr", "message_ar", "field"}}.

A refusal carries no HTTP: its status comes from its code (``STATUS``, the one table), its headers from its
typed extras (``retry_after``) and its code (``WWW-Authenticate`` for ``unauthorized``)."""

from __future__ import annotations

import re
from typing import Any

import psycopg
import structlog
from eventsourcing.persistence import OperationalError as StoreUnavailable
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from psycopg_pool import PoolTimeout
from pydantic import BaseModel
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.routing import Match, Mount
from starlette.types import Scope

from ipe_claims.application.intake import Refusal, not_found

__all__ = ["ApiError", "Refusal", "error_response", "forbidden", "install", "not_found", "status_of",
           "unauthorized"]  # fmt: skip


ApiError = Refusal  # the HTTP name of the intake's refusal

# Each refusal's status, by its code; a code missing here is a fault of ours (500).
STATUS = {
    "invalid_type": 400, "malformed_json": 400, "invalid_cursor": 400, "invalid_period": 400,
    "invalid_filter_date": 400,
    "unauthorized": 401, "invalid_credentials": 401,
    "forbidden": 403, "csrf_failed": 403,
    "not_found": 404,
    "method_not_allowed": 405,
    "open_claim_exists": 409, "claim_closed": 409, "record_lost": 409,
    "body_too_large": 413, "scan_too_large": 413, "scan_type_refused": 415,
    "unknown_motif": 422, "invalid_date": 422, "job_loss_date_in_future": 422,
    "job_loss_date_before_scheme": 422, "attestation_required": 422, "insured_not_declared": 422,
    "idempotency_key_reused": 422, "invalid_value": 422, "invalid_text": 422, "unknown_field": 422,
    "missing_field": 422, "invalid_return_to_work": 422,
    # an agent's review (routes/review.py; the domain's codes, ipe_claims/domain/review.py)
    "invalid_review": 422, "reason_required": 422, "reason_too_long": 422, "motif_not_reviewable": 409,
    "claim_already_decided": 409, "review_already_ruled": 409, "not_rejected_late": 409, "not_filed_late": 409,
    "claim_changed": 409, "later_claim_open": 409,
    # the dossier (routes/dossier.py; the domain's codes, ipe_claims/domain/dossier.py and rib.py)
    "document_kind_unknown": 422, "document_status_invalid": 422,
    "rib_not_expected": 422, "rib_required": 422, "rib_length": 422, "rib_not_digits": 422, "rib_key": 422,
    "scan_empty": 422, "agent_required": 422,
    "rate_limited": 429, "login_rate_limited": 429, "account_locked": 429, "login_throttled": 429,
    "internal_error": 500,
    "overloaded": 503, "service_unavailable": 503,
}  # fmt: skip
_HEADERS = {"unauthorized": {"WWW-Authenticate": "Bearer"}}


def status_of(refusal: Refusal) -> int:
    return STATUS.get(refusal.code, 500)


def headers_of(refusal: Refusal) -> dict[str, str] | None:
    headers = dict(_HEADERS.get(refusal.code, {}))
    if refusal.retry_after is not None:
        headers["Retry-After"] = str(refusal.retry_after)
    return headers or None


class ErrorDetail(BaseModel):
    code: str
    message_fr: str
    message_ar: str
    field: str | None


class ErrorBody(BaseModel):
    """The one body of every refusal (documented in the OpenAPI for every status we answer with)."""

    error: ErrorDetail


def documented(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI ``responses`` for these error statuses, all with the error body."""
    return {status: {"model": ErrorBody, "description": _STATUS_TEXT[status]} for status in statuses}


_STATUS_TEXT = {400: "Malformed request", 401: "No or bad token", 403: "Role not allowed",
                404: "Not found or not yours", 405: "Method not allowed", 409: "Conflict",
                413: "Body too large", 415: "Unsupported media type", 422: "Breaks a rule", 429: "Too many requests",
                503: "Overloaded: retry after Retry-After seconds"}  # fmt: skip
# What any route may answer: the transport limits (413, 429) and the framework's own refusals.
COMMON = documented(400, 413, 422, 429)
AUTHENTICATED = documented(400, 401, 403, 413, 422, 429)
# Every route, documented once on the app: the error body for whatever a route may answer.
ANY_ROUTE = documented(400, 401, 403, 404, 409, 413, 422, 429)


def too_large(limit: int) -> ApiError:
    return ApiError("body_too_large", f"Corps de requête trop volumineux (au plus {limit} octets).",
                    f"محتوى الطلب كبير جدا (على الأكثر {limit} بايت).")  # fmt: skip


def overloaded() -> ApiError:
    return ApiError("overloaded", "Service momentanément surchargé ; réessayez dans un instant.",
                    "الخدمة مثقلة مؤقتا؛ أعيدوا المحاولة بعد لحظة.", retry_after=1)  # fmt: skip


def rate_limited(retry_after: int) -> ApiError:
    return ApiError("rate_limited", "Trop de requêtes ; réessayez plus tard.",
                    "طلبات كثيرة جدا؛ أعيدوا المحاولة لاحقا.", retry_after=retry_after)  # fmt: skip


def unavailable() -> ApiError:
    """The database is unreachable (a restart, a failover): nothing was stored; the caller may retry."""
    return ApiError("service_unavailable", "Service momentanément indisponible ; rien n'a été enregistré, "
                    "réessayez.", "الخدمة غير متوفرة مؤقتا؛ لم يسجل أي شيء، أعيدوا المحاولة.",
                    retry_after=2)  # fmt: skip


def invalid_text(field: str | None) -> ApiError:
    """A string that is not valid Unicode (a lone surrogate): nothing can store or show it."""
    where_fr, where_ar = (f" dans {field}", f" في {field}") if field else ("", "")
    return ApiError("invalid_text", f"Texte invalide{where_fr} : caractères Unicode non valides.",
                    f"نص غير صالح{where_ar}: رموز يونيكود غير صالحة.", field or None)  # fmt: skip


def internal_error() -> ApiError:
    return ApiError(
        "internal_error",
        "Erreur interne ; la demande n'a pas été enregistrée si elle n'a pas reçu de réponse 201.",
        "خطأ داخلي.",
    )


def error_response(refusal: Refusal, status: int | None = None, headers: dict[str, str] | None = None
                   ) -> JSONResponse:  # fmt: skip
    """The refusal's body, with its code's status and headers unless told others (the framework's own
    refusals: any status; a 405's ``Allow``)."""
    body = {"error": {"code": refusal.code, "message_fr": refusal.message_fr, "message_ar": refusal.message_ar,
                      "field": refusal.field}}  # fmt: skip
    return JSONResponse(
        body, status_code=status or status_of(refusal), headers=headers or headers_of(refusal)
    )


def unauthorized() -> ApiError:
    return ApiError(
        "unauthorized",
        "Jeton absent, invalide ou expiré.",
        "رمز الولوج غير موجود أو غير صالح أو منتهي الصلاحية.",
    )


def forbidden() -> ApiError:
    return ApiError("forbidden", "Votre rôle ne permet pas cette opération.", "دوركم لا يسمح بهذه العملية.")


def _validation_error(exc: RequestValidationError) -> ApiError:
    first: dict[str, Any] = exc.errors()[0] if exc.errors() else {}
    location = [str(part) for part in first.get("loc", ()) if part != "body"]
    field = ".".join(location) or None
    kind = first.get("type", "")
    if kind == "json_invalid" or (kind in ("model_attributes_type", "missing") and not location):
        return ApiError(
            "malformed_json",
            "Le corps de la requête n'est pas un objet JSON valide.",
            "محتوى الطلب ليس كائن JSON صالحا.",
        )
    if kind == "extra_forbidden":
        return ApiError("unknown_field", f"Champ inconnu : {field}.", f"حقل غير معروف: {field}.", field)
    if kind == "missing":
        return ApiError(
            "missing_field", f"Champ obligatoire absent : {field}.", f"حقل إلزامي ناقص: {field}.", field
        )
    return ApiError(
        "invalid_type",
        f"Type de valeur invalide pour {field}.",
        f"نوع القيمة غير صالح في {field}.",
        field,
    )


# The database cannot be reached (a restart, a failover): 503, nothing was stored.
UNAVAILABLE: tuple[type[Exception], ...] = (psycopg.OperationalError, psycopg.InterfaceError, PoolTimeout,
                                            StoreUnavailable)  # fmt: skip


async def _unavailable(_: Request, exc: Exception) -> JSONResponse:
    structlog.get_logger().warning("api.database_unavailable", error=type(exc).__name__)
    return error_response(unavailable())


def install(app: FastAPI) -> None:
    @app.exception_handler(Refusal)
    async def _refusal(_: Request, exc: Refusal) -> JSONResponse:
        return error_response(exc)

    @app.exception_handler(RequestValidationError)
    async def _invalid(_: Request, exc: RequestValidationError) -> JSONResponse:
        return error_response(_validation_error(exc))

    for kind in UNAVAILABLE:
        app.add_exception_handler(kind, _unavailable)

    @app.exception_handler(Exception)
    async def _unexpected(_: Request, exc: Exception) -> JSONResponse:
        structlog.get_logger().exception("api.unexpected_error", error=type(exc).__name__)
        return error_response(internal_error())

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        if exc.status_code == 405:
            allowed = allowed_methods(app, request.scope)
            return error_response(method_not_allowed(allowed), headers={"Allow": ", ".join(allowed)})
        code = {404: "not_found"}.get(exc.status_code, "http_error")
        return error_response(
            ApiError(code, str(exc.detail), str(exc.detail)), exc.status_code, dict(exc.headers or {})
        )


_METHODS = ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS")


def allowed_methods(app: FastAPI, scope: Scope) -> list[str]:
    """The methods the OpenAPI documents at this path (a path's GET and POST are two routes, and the
    framework's own 405 names only the first one it met). A literal path wins over a template:
    /api/v1/claims/preview is the preview's (POST), not a claim id. Pages outside the OpenAPI (the portal):
    the methods their routes serve; static files: GET and HEAD."""
    path = scope["path"]
    documented = [(template.count("{"), operations) for template, operations in app.openapi()["paths"].items()
                  if re.fullmatch(re.sub(r"\\\{[^}]*\\\}", "[^/]+", re.escape(template)), path)]  # fmt: skip
    if documented:
        fewest = min(parameters for parameters, _ in documented)
        found = {method.upper() for parameters, ops in documented if parameters == fewest for method in ops}
        return [method for method in _METHODS if method in found]
    routes = [route for route in app.router.routes if not isinstance(route, Mount)]
    served = [method for method in _METHODS
              if any(route.matches({**scope, "method": method})[0] == Match.FULL for route in routes)]  # fmt: skip
    return served or ["GET", "HEAD"]


def method_not_allowed(methods: list[str]) -> ApiError:
    """405's words; its response carries the ``Allow`` header RFC 9110 asks for (``install``)."""
    allowed = ", ".join(methods)
    return ApiError("method_not_allowed", f"Méthode non autorisée ici ; méthodes permises : {allowed}.",
                    f"الطريقة غير مسموح بها هنا؛ الطرق المسموح بها: {allowed}.")  # fmt: skip
