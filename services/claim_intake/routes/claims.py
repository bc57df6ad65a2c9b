"""Claims: the confirmation preview, submission, one claim (the history table is in
``history.py``)."""

from datetime import date
from typing import Annotated, Any

import structlog
from fastapi import APIRouter, Header, Request
from pydantic import BaseModel, ConfigDict, Field, JsonValue, StrictBool, StrictStr

from ipe_claims.adapters.accounts import Principal
from ipe_claims.adapters.declared_insured import PostgresDeclarations
from ipe_claims.adapters.projections import stage_of
from ipe_claims.application import filing, intake
from ipe_claims.domain.motifs import MOTIFS
from services.claim_intake import access_log, errors
from services.claim_intake.deps import (
    Caller,
    Db,
    DecimalJSONResponse,
    Employer,
    Now,
    Store,
    Submitter,
    may_read_claim,
    parse_uuid,
    request_id,
)  # fmt: skip
from services.claim_intake.submissions import Submissions, submitter

router = APIRouter(prefix="/api/v1/claims")

CLAIM_COLUMNS = (
    "claim_id, immatriculation, cin, nom, prenoms, affiliation_number, motif_code, motif_label, "
    "job_loss_date, situation, situation_date, rejection_code, rejection_reason, monthly_amount, duration_months"
)


EXAMPLE_CLAIM: dict[str, JsonValue] = {"affiliation_number": "1234567", "immatriculation": "100000001", "job_loss_date": "2026-11-30",
                 "motif_code": "licenciement_economique", "attestation": True}  # fmt: skip


class ClaimOut(BaseModel):
    """One row of the portal's history table (documentation of the JSON the routes write themselves)."""

    claim_id: str
    immatriculation: str
    cin: str
    nom: str
    prenoms: str
    affiliation_number: str
    motif_code: str
    motif_label: str
    job_loss_date: date
    situation: str
    situation_date: date
    rejection_code: str | None
    rejection_reason: str | None
    monthly_amount: float | None  # a JSON number with its two decimals
    duration_months: int | None


class ClaimDetail(ClaimOut):
    """One claim, with why it waits while its situation is « En cours »."""

    stage: Annotated[str, Field(
        description="deciding: the rules decide it next; review: waits for a CNSS agent's ruling on its motif "
        "(« Autre », « Accident de travail »); awaiting_declaration: waits for the employer's declaration of the "
        "month before the loss; decided: see situation.",
        json_schema_extra={"enum": ["deciding", "review", "awaiting_declaration", "decided"]})]  # fmt: skip


class Preview(BaseModel):
    assure: str
    immatriculation: str
    motif_code: str
    motif_label: str
    job_loss_date: date


class ClaimRequest(BaseModel):
    """A claim as the employer files it.

    The schema says what is accepted (a date, a motif of the list, an attestation that is true), while the
    fields stay plain strings and a boolean: a bad value then gets the intake's own bilingual refusal
    (``invalid_date``, ``unknown_motif``, ``attestation_required``) rather than the framework's."""

    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [EXAMPLE_CLAIM]})
    affiliation_number: Annotated[StrictStr, Field(description="One of your affiliations.")]
    immatriculation: Annotated[StrictStr, Field(description="The insured's CNSS number.")]
    job_loss_date: Annotated[StrictStr, Field(
        description="Date de perte d'emploi, YYYY-MM-DD: not in the future, not before the IPE began.",
        json_schema_extra={"format": "date"})]  # fmt: skip
    motif_code: Annotated[StrictStr, Field(description="Motif de perte d'emploi (GET /api/v1/motifs).",
                                           json_schema_extra={"enum": list(MOTIFS)})]  # fmt: skip
    attestation: Annotated[StrictBool, Field(
        description="« J'atteste l'exactitude des informations liées à la perte d'emploi déclarées ci-dessus »: "
        "must be true.", json_schema_extra={"enum": [True]})]  # fmt: skip


def _facts(body: ClaimRequest, caller: Principal, conn: Db, today: date) -> dict[str, Any]:
    """The facts the claim would have, or its refusal: filing's validation, on a batch of one."""
    return filing.facts_or_refusal(
        PostgresDeclarations(conn), submitter(caller), intake.Submission(**body.model_dump()), today
    )


def _row(row: dict[str, Any]) -> dict[str, Any]:
    return {**row, "claim_id": str(row["claim_id"]), "job_loss_date": row["job_loss_date"].isoformat(),
            "situation_date": row["situation_date"].isoformat()}  # fmt: skip


@router.post("/preview", response_model=Preview, responses=errors.AUTHENTICATED | errors.documented(404))
def preview(body: ClaimRequest, caller: Employer, conn: Db, clock: Now, request: Request) -> dict[str, Any]:
    """What the portal's confirmation dialog shows; creates nothing."""
    facts = _facts(body, caller, conn, clock.today())
    access_log.record(conn, caller, "claim.preview", [facts], request_id(request))
    return {"assure": f"{facts['prenoms']} {facts['nom']}", "immatriculation": facts["immatriculation"],
            "motif_code": facts["motif_code"], "motif_label": MOTIFS[facts["motif_code"]].label_fr,
            "job_loss_date": facts["job_loss_date"].isoformat()}  # fmt: skip


@router.post("", status_code=201, response_model=ClaimOut,
             responses=errors.AUTHENTICATED | errors.documented(404, 409))  # fmt: skip
async def submit(body: ClaimRequest, bearer: Submitter, request: Request,
                 idempotency_key: Annotated[str | None, Header(max_length=200)] = None) -> DecimalJSONResponse:  # fmt: skip
    """File a claim. The same Idempotency-Key and body give the first answer again, whatever followed.

    Served with the concurrent submissions in one batch (``submissions.py``): no thread of its own."""
    claim_id = intake.claim_id_for(bearer.principal.username, idempotency_key)
    submissions: Submissions = request.app.state.submissions
    response = await submissions.file(bearer, intake.Submission(**body.model_dump()), claim_id,
                                      request_id(request))  # fmt: skip
    # On the request's one log line (edge.py) rather than a line of its own: logging is a cost per request.
    structlog.contextvars.bind_contextvars(claim_id=str(claim_id), channel="http")
    return response


@router.get(
    "/{claim_id}", response_model=ClaimDetail, responses=errors.AUTHENTICATED | errors.documented(404)
)
def get_claim(claim_id: str, caller: Caller, conn: Db, store: Store, request: Request) -> DecimalJSONResponse:
    """The claim's row; just after its 201, before the projector has written that row, the claim as the event
    store holds it (so a client reads what it has just filed)."""
    found = parse_uuid(claim_id)
    row = conn.execute(f"SELECT {CLAIM_COLUMNS}, stage FROM claims WHERE claim_id = %s", (found,)).fetchone()
    claim = store.find_claim(found) if row is None else None
    shown = (_row(row) if row is not None
             else intake.claim_row(claim) | {"stage": stage_of(claim)} if claim is not None else None)  # fmt: skip
    if shown is None or not may_read_claim(caller, shown["affiliation_number"]):
        raise errors.not_found()
    access_log.record(conn, caller, "claim.read", [shown], request_id(request))
    return DecimalJSONResponse(shown)
