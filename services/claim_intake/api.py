"""The intake HTTP API (FastAPI; OpenAPI at /docs). Thin: authenticate, validate, call the application.

No `from __future__ import annotations` here: FastAPI resolves the dependency annotations at runtime.
"""

import re
import uuid
from collections.abc import Iterator
from contextlib import asynccontextmanager
from datetime import UTC, date, datetime
from typing import Annotated, Any

import psycopg
import simplejson
import structlog
from fastapi import Depends, FastAPI, Header, Query
from fastapi.responses import JSONResponse
from psycopg.rows import dict_row
from psycopg_pool import ConnectionPool
from pydantic import BaseModel, ConfigDict, StrictBool, StrictStr

from ipe_claims.adapters.accounts import Principal, issue_token, principal_for_token
from ipe_claims.application import CASABLANCA, ClaimsApplication
from ipe_claims.domain.claim import NAMESPACE, Claim, OpenClaimExists
from ipe_claims.domain.motifs import MOTIFS
from ipe_claims.settings import Settings
from services.claim_intake import errors
from services.claim_intake.errors import ApiError

log = structlog.get_logger()
_ISO_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")


class DecimalJSONResponse(JSONResponse):
    """Amounts are Decimals; they go out as JSON numbers with their two decimals (1152.90).

    Routes that carry amounts return this response themselves: a returned dict goes through FastAPI's
    own encoding first, which turns a Decimal into a string ("1152.90") or a float (1152.9).
    """

    def render(self, content: Any) -> bytes:
        return simplejson.dumps(content, use_decimal=True, ensure_ascii=False, default=str).encode()


class TokenRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    username: StrictStr
    password: StrictStr


class ClaimRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    affiliation_number: StrictStr
    immatriculation: StrictStr
    job_loss_date: StrictStr
    motif_code: StrictStr
    attestation: StrictBool


CLAIM_COLUMNS = (
    "claim_id, immatriculation, cin, nom, prenoms, affiliation_number, motif_code, motif_label, "
    "job_loss_date, situation, situation_date, rejection_code, rejection_reason, monthly_amount, duration_months"
)


def _row(row: dict[str, Any]) -> dict[str, Any]:
    return {
        **row,
        "claim_id": str(row["claim_id"]),
        "job_loss_date": row["job_loss_date"].isoformat(),
        "situation_date": row["situation_date"].isoformat(),
    }


def create_app(settings: Settings, claims: ClaimsApplication | None = None) -> FastAPI:
    pool = ConnectionPool(
        settings.database_url,
        min_size=1,
        max_size=10,
        open=False,
        kwargs={"row_factory": dict_row, "autocommit": True},
    )
    store = claims

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> Any:
        nonlocal store
        pool.open(wait=True, timeout=30)
        if store is None:
            from ipe_claims.bootstrap import make_app

            store = make_app(settings)
        yield
        pool.close()

    app = FastAPI(
        title="ipe-claims intake", version="1", lifespan=lifespan, default_response_class=DecimalJSONResponse
    )
    errors.install(app)

    def db() -> Iterator[psycopg.Connection[Any]]:
        with pool.connection() as conn:
            yield conn

    Db = Annotated[psycopg.Connection[Any], Depends(db)]

    def principal(conn: Db, authorization: Annotated[str | None, Header()] = None) -> Principal:
        scheme, _, token = (authorization or "").partition(" ")
        if scheme.lower() != "bearer" or not token:
            raise errors.unauthorized()
        found = principal_for_token(conn, token.strip())
        if found is None:
            raise errors.unauthorized()
        structlog.contextvars.bind_contextvars(account=found.username)
        return found

    Caller = Annotated[Principal, Depends(principal)]

    def employer(caller: Caller) -> Principal:
        if caller.role != "employer":
            raise errors.forbidden()
        return caller

    Employer = Annotated[Principal, Depends(employer)]

    @app.get("/healthz")
    def healthz(conn: Db) -> dict[str, str]:
        conn.execute("SELECT 1")
        return {"status": "ok"}

    @app.post("/api/v1/auth/token")
    def token(body: TokenRequest, conn: Db) -> dict[str, Any]:
        issued = issue_token(conn, body.username, body.password, settings.token_ttl_seconds)
        if issued is None:
            raise ApiError(
                401,
                "invalid_credentials",
                "Identifiant ou mot de passe incorrect.",
                "اسم المستخدم أو كلمة السر غير صحيحة.",
            )
        return {"access_token": issued, "token_type": "bearer", "expires_in": settings.token_ttl_seconds}

    @app.get("/api/v1/motifs")
    def motifs() -> list[dict[str, str]]:
        return [{"code": m.code, "label_fr": m.label_fr, "label_ar": m.label_ar} for m in MOTIFS.values()]

    @app.get("/api/v1/affiliations")
    def affiliations(caller: Employer, conn: Db) -> list[dict[str, Any]]:
        return conn.execute(
            "SELECT affiliation_number, name FROM affiliations WHERE affiliation_number = ANY(%s) "
            "ORDER BY affiliation_number",
            (sorted(caller.affiliations),),
        ).fetchall()

    @app.get("/api/v1/affiliations/{affiliation_number}/insured")
    def insured(affiliation_number: str, caller: Employer, conn: Db) -> list[dict[str, Any]]:
        if affiliation_number not in caller.affiliations:
            raise errors.not_found("affiliation_number")
        return conn.execute(
            "SELECT i.immatriculation, i.cin, i.nom, i.prenoms FROM insured i WHERE EXISTS ("
            "SELECT 1 FROM declarations d WHERE d.immatriculation = i.immatriculation "
            "AND d.affiliation_number = %s) ORDER BY i.nom, i.prenoms, i.immatriculation",
            (affiliation_number,),
        ).fetchall()

    def validate(body: ClaimRequest, caller: Principal, conn: psycopg.Connection[Any]) -> dict[str, Any]:
        """The submission's facts, or the first rule it breaks."""
        if body.affiliation_number not in caller.affiliations:
            raise errors.not_found("affiliation_number")
        if body.motif_code not in MOTIFS:
            raise ApiError(
                422,
                "unknown_motif",
                "Motif de perte d'emploi inconnu.",
                "سبب فقدان الشغل غير معروف.",
                "motif_code",
            )
        loss = _calendar_date(body.job_loss_date)
        if loss is None:
            raise ApiError(
                422,
                "invalid_date",
                "Date de perte d'emploi illisible (AAAA-MM-JJ).",
                "تاريخ فقدان الشغل غير مقروء (YYYY-MM-DD).",
                "job_loss_date",
            )
        if loss > datetime.now(CASABLANCA).date():
            raise ApiError(
                422,
                "job_loss_date_in_future",
                "La date de perte d'emploi est dans le futur.",
                "تاريخ فقدان الشغل في المستقبل.",
                "job_loss_date",
            )
        if not body.attestation:
            raise ApiError(
                422,
                "attestation_required",
                "Vous devez attester l'exactitude des informations liées à la perte d'emploi.",
                "يجب الإشهاد بصحة المعلومات المتعلقة بفقدان الشغل.",
                "attestation",
            )
        person = conn.execute(
            "SELECT i.cin, i.nom, i.prenoms FROM insured i WHERE i.immatriculation = %s AND EXISTS ("
            "SELECT 1 FROM declarations d WHERE d.immatriculation = i.immatriculation "
            "AND d.affiliation_number = %s)",
            (body.immatriculation, body.affiliation_number),
        ).fetchone()
        if person is None:
            raise ApiError(
                422,
                "insured_not_declared",
                "Cet assuré n'a jamais été déclaré par cette affiliation.",
                "لم يسبق لهذا الانخراط التصريح بهذا المؤمن له.",
                "immatriculation",
            )
        return {
            "affiliation_number": body.affiliation_number,
            "immatriculation": body.immatriculation,
            "job_loss_date": loss,
            "motif_code": body.motif_code,
            "attestation": True,
            **person,
        }

    @app.post("/api/v1/claims/preview")
    def preview(body: ClaimRequest, caller: Employer, conn: Db) -> dict[str, Any]:
        facts = validate(body, caller, conn)
        return {
            "assure": f"{facts['prenoms']} {facts['nom']}",
            "immatriculation": facts["immatriculation"],
            "motif_code": facts["motif_code"],
            "motif_label": MOTIFS[facts["motif_code"]].label_fr,
            "job_loss_date": facts["job_loss_date"].isoformat(),
        }

    @app.post("/api/v1/claims", status_code=201)
    def submit(
        body: ClaimRequest,
        caller: Employer,
        conn: Db,
        idempotency_key: Annotated[str | None, Header(max_length=200)] = None,
    ) -> DecimalJSONResponse:
        facts = validate(body, caller, conn)
        claim_id = (
            uuid.uuid5(NAMESPACE, f"{caller.username}:{idempotency_key}") if idempotency_key else uuid.uuid4()
        )
        assert store is not None
        try:
            claim = store.submit(
                claim_id, filed_at=datetime.now(UTC), submitted_by=caller.username, channel="http", **facts
            )
        except OpenClaimExists as exc:
            raise ApiError(
                409,
                "open_claim_exists",
                "Une demande est déjà en cours pour cet assuré.",
                "يوجد طلب مفتوح لهذا المؤمن له.",
                "immatriculation",
            ) from exc
        if any(
            getattr(claim, key) != value
            for key, value in facts.items()
            if key not in ("cin", "nom", "prenoms")
        ):
            raise ApiError(
                422,
                "idempotency_key_reused",
                "Cette clé d'idempotence a servi pour une autre demande.",
                "مفتاح عدم التكرار هذا استعمل لطلب آخر.",
                "Idempotency-Key",
            )
        log.info("claim.submitted", claim_id=str(claim.id), channel="http")
        return DecimalJSONResponse(claim_row(claim), status_code=201)

    def visible(caller: Principal, affiliation: str) -> bool:
        return caller.role == "auditor" or (caller.role == "employer" and affiliation in caller.affiliations)

    @app.get("/api/v1/claims")
    def list_claims(
        caller: Caller,
        conn: Db,
        affiliation_number: str | None = None,
        situation: str | None = None,
        cursor: str | None = None,
        limit: Annotated[int, Query(ge=1, le=500)] = 100,
    ) -> DecimalJSONResponse:
        if caller.role not in ("employer", "auditor"):
            raise errors.forbidden()
        scope = None if caller.role == "auditor" else sorted(caller.affiliations)
        rows = conn.execute(
            f"SELECT {CLAIM_COLUMNS}, filed_at FROM claims WHERE (%(scope)s::text[] IS NULL "
            "OR affiliation_number = ANY(%(scope)s)) AND (%(aff)s::text IS NULL OR affiliation_number = %(aff)s) "
            "AND (%(sit)s::text IS NULL OR situation = %(sit)s) AND (%(after)s::uuid IS NULL OR claim_id > %(after)s) "
            "ORDER BY claim_id LIMIT %(limit)s",
            {
                "scope": scope,
                "aff": affiliation_number,
                "sit": situation,
                "after": _cursor(cursor),
                "limit": limit + 1,
            },
        ).fetchall()
        items = [_row({k: v for k, v in row.items() if k != "filed_at"}) for row in rows[:limit]]
        return DecimalJSONResponse(
            {"items": items, "next_cursor": items[-1]["claim_id"] if len(rows) > limit else None}
        )

    @app.get("/api/v1/claims/{claim_id}")
    def get_claim(claim_id: str, caller: Caller, conn: Db) -> DecimalJSONResponse:
        row = conn.execute(
            f"SELECT {CLAIM_COLUMNS} FROM claims WHERE claim_id = %s", (_uuid(claim_id),)
        ).fetchone()
        if row is None or not visible(caller, row["affiliation_number"]):
            raise errors.not_found()
        return DecimalJSONResponse(_row(row))

    @app.get("/api/v1/claims/{claim_id}/notifications")
    def notifications(claim_id: str, caller: Caller, conn: Db) -> list[dict[str, Any]]:
        row = conn.execute(
            "SELECT affiliation_number FROM claims WHERE claim_id = %s", (_uuid(claim_id),)
        ).fetchone()
        if row is None or not visible(caller, row["affiliation_number"]):
            raise errors.not_found()
        found = conn.execute(
            "SELECT event_id AS message_id, kind, channel, status, subject_fr, subject_ar, created_at "
            "FROM notifications WHERE claim_id = %s ORDER BY created_at, event_id",
            (_uuid(claim_id),),
        ).fetchall()
        return [
            {**n, "message_id": str(n["message_id"]), "created_at": n["created_at"].isoformat()}
            for n in found
        ]

    return app


def _uuid(value: str) -> uuid.UUID:
    try:
        return uuid.UUID(value)
    except ValueError:
        raise errors.not_found() from None


def _calendar_date(text: str) -> date | None:
    """A YYYY-MM-DD date; `date.fromisoformat` alone also reads 20260101 and week dates (2026-W01-1)."""
    if not _ISO_DATE.fullmatch(text):
        return None
    try:
        return date.fromisoformat(text)
    except ValueError:
        return None


def _cursor(value: str | None) -> uuid.UUID | None:
    if value is None:
        return None
    try:
        return uuid.UUID(value)
    except ValueError:
        raise ApiError(400, "invalid_cursor", "Curseur invalide.", "مؤشر غير صالح.", "cursor") from None


def claim_row(claim: Claim) -> dict[str, Any]:
    """The history-table row of a claim, straight from the aggregate (the read model may lag)."""
    decision = claim.decision
    motif = MOTIFS[claim.motif_code]
    return {
        "claim_id": str(claim.id),
        "immatriculation": claim.immatriculation,
        "cin": claim.cin,
        "nom": claim.nom,
        "prenoms": claim.prenoms,
        "affiliation_number": claim.affiliation_number,
        "motif_code": claim.motif_code,
        "motif_label": motif.label_fr,
        "job_loss_date": claim.job_loss_date.isoformat(),
        "situation": claim.situation,
        "situation_date": (claim.modified_on if decision else claim.filed_at)
        .astimezone(CASABLANCA)
        .date()
        .isoformat(),
        "rejection_code": decision.rejection_code if decision else None,
        "rejection_reason": decision.rejection_reason_fr if decision else None,
        "monthly_amount": decision.monthly_amount if decision else None,
        "duration_months": decision.duration_months if decision else None,
    }
