"""A claim's decision explained, and the return to work that ends its benefit early."""

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Request
from pydantic import BaseModel, ConfigDict, Field, StrictStr

from ipe_claims.adapters.projections import stage_of
from ipe_claims.application import intake
from ipe_claims.application.claims import ClaimKeptChanging
from ipe_claims.application.returning import RecordReturnToWork
from ipe_claims.domain.claim import Claim
from ipe_claims.domain.claim_life import AgentRuling
from ipe_claims.domain.lifecycle import InvalidReturnToWork
from services.claim_intake import access_log, errors
from services.claim_intake.deps import (
    Caller,
    Db,
    DecimalJSONResponse,
    Now,
    Store,
    claim_affiliation,
    reads_every_claim,
    request_id,
)
from services.claim_intake.errors import ApiError

router = APIRouter(prefix="/api/v1/claims")


def _ruling(ruling: AgentRuling, with_names: bool) -> dict[str, Any]:
    """An agent's ruling: its reason, agency and time; the agent's name only for the fund's staff."""
    shown: dict[str, Any] = {
        "reason": ruling.reason,
        "agency": ruling.agency,
        "ruled_at": ruling.ruled_at.isoformat(),
    }
    if ruling.involuntary is not None:
        shown["involuntary"] = ruling.involuntary
    return shown | ({"agent": ruling.agent} if with_names else {})


def explanation(claim: Claim, with_figures: bool) -> dict[str, Any]:
    """Each rule's outcome; the figures it used (days, salaries, SMIG) and the agents' names only for the
    fund's staff. ``decided_at`` is the first decision's time; ``decisions`` lists each one, the last in
    force (a force-majeure plea or an expired dossier decides a claim again)."""
    decision = claim.decision
    body: dict[str, Any] = {"claim_id": str(claim.id), "situation": claim.situation, "stage": stage_of(claim)}
    if claim.review is not None:
        body["review"] = _ruling(claim.review, with_figures)
    if claim.force_majeure is not None:
        body["force_majeure"] = _ruling(claim.force_majeure, with_figures)
    if claim.awaiting is not None:
        body["awaiting_declaration"] = {"affiliation_number": claim.awaiting.affiliation_number,
                                        "month": claim.awaiting.month.strftime("%Y-%m"),
                                        "due": claim.awaiting.due.isoformat()}  # fmt: skip
    if decision is None:
        return body | {"rules": []}
    rules = []
    for outcome in decision.outcomes:
        rule = {"rule": outcome.rule, "passed": outcome.passed, "code": outcome.code,
                "reason_fr": outcome.reason_fr, "reason_ar": outcome.reason_ar}  # fmt: skip
        rules.append(rule | ({"figures": dict(outcome.figures)} if with_figures else {}))
    body |= {"ruleset_version": decision.ruleset_version, "decided_at": _iso(claim.first_decided_at),
             "rejection_code": decision.rejection_code, "rejection_reason_fr": decision.rejection_reason_fr,
             "rejection_reason_ar": decision.rejection_reason_ar, "monthly_amount": decision.monthly_amount,
             "duration_months": decision.duration_months, "rules": rules}  # fmt: skip
    if with_figures:
        body |= {"days_36": decision.days_36, "days_12": decision.days_12,
                 "reference_salary": decision.reference_salary, "smig_monthly": decision.smig_monthly}  # fmt: skip
    body["decisions"] = [{"decided_at": r.decided_at.isoformat(), "situation": r.decision.situation,
                          "rejection_code": r.decision.rejection_code} for r in claim.decisions]  # fmt: skip
    if claim.returned is not None:
        body["return_to_work"] = {"return_date": claim.returned.return_date.isoformat(),
                                  "benefit_end": claim.returned.benefit_end.isoformat(),
                                  "months_due": claim.returned.months_due,
                                  "late_notice": claim.returned.late_notice}  # fmt: skip
    return body


def _iso(at: datetime | None) -> str | None:
    return at.isoformat() if at is not None else None


@router.get("/{claim_id}/decision")
def decision(claim_id: str, caller: Caller, conn: Db, store: Store, request: Request) -> DecimalJSONResponse:
    claim = store.get_claim(claim_affiliation(conn, caller, claim_id))
    access_log.record(conn, caller, "claim.decision", [{"claim_id": claim.id, "affiliation_number":
                      claim.affiliation_number, "immatriculation": claim.immatriculation}], request_id(request))  # fmt: skip
    return DecimalJSONResponse(explanation(claim, with_figures=reads_every_claim(caller)))


class ReturnToWorkRequest(BaseModel):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [{"return_date": "2027-01-04"}]})
    return_date: Annotated[StrictStr, Field(description="Date de reprise d'activité, YYYY-MM-DD.",
                                            json_schema_extra={"format": "date"})]  # fmt: skip


@router.post("/{claim_id}/return-to-work")
def return_to_work(claim_id: str, body: ReturnToWorkRequest, caller: Caller, conn: Db, store: Store,
                   clock: Now, request: Request) -> DecimalJSONResponse:  # fmt: skip
    """The claim's employer declares the insured's reprise d'activité (admins have no claim access over
    HTTP: a caseworker records it with ``ipe claims return-to-work``). The answer shows the claim's
    figures, so it is in the access log."""
    if caller.role != "employer":
        raise errors.forbidden()
    found = claim_affiliation(conn, caller, claim_id)
    returned_on = intake.calendar_date(body.return_date)
    if returned_on is None:
        raise ApiError("invalid_date", "Date de reprise illisible (AAAA-MM-JJ).",
                       "تاريخ استئناف العمل غير مقروء (YYYY-MM-DD).", "return_date")  # fmt: skip
    try:
        claim = RecordReturnToWork(store, clock)(found, returned_on, caller.username)
    except InvalidReturnToWork as exc:
        raise ApiError("invalid_return_to_work", f"Reprise d'activité refusée : {exc}.",
                       "تم رفض التصريح باستئناف العمل.", "return_date") from exc  # fmt: skip
    except ClaimKeptChanging as exc:
        raise ApiError(exc.code, "La demande change en ce moment ; réessayez.",
                       "الطلب يتغير الآن؛ أعيدوا المحاولة.", "return_date") from exc  # fmt: skip
    access_log.record(conn, caller, "claim.return_to_work", [{"claim_id": claim.id, "affiliation_number":
                      claim.affiliation_number, "immatriculation": claim.immatriculation}], request_id(request))  # fmt: skip
    return DecimalJSONResponse(explanation(claim, with_figures=False))
