"""An agent's review of a claim: a ruling on a motif the rules cannot judge, or force majeure for a late
filing (``ipe_claims.application.reviewing``). The answer is the decision explained, agents' names and
figures included, so it is in the access log with the agent's agency."""

from typing import Annotated, Any

from eventsourcing.application import AggregateNotFoundError
from eventsourcing.persistence import IntegrityError
from fastapi import APIRouter, Request
from pydantic import BaseModel, ConfigDict, Field, StrictBool, StrictStr

from ipe_claims.adapters.declarations import DeclarationsOnConnection
from ipe_claims.application.reviewing import ActingAgent, Reviewer
from ipe_claims.domain import review
from ipe_claims.domain.review import InvalidReview
from services.claim_intake import access_log, errors
from services.claim_intake.deps import Agent, Db, DecimalJSONResponse, Now, Store, parse_uuid, request_id
from services.claim_intake.errors import ApiError
from services.claim_intake.routes.decisions import explanation

router = APIRouter(prefix="/api/v1/claims")
DECIDED_BY = "ipe-claim-intake (review)"

_EXAMPLES: list[Any] = [
    {"involuntary": True, "reason": "PV de l'inspecteur du travail : fermeture du site après l'accident."},
    {"force_majeure": True, "reason": "Hospitalisation du 3 au 28 février (certificat joint)."},
]


class ReviewRequest(BaseModel):
    """One ruling per request: ``involuntary`` on the motif of a claim in review, or ``force_majeure`` for a
    claim rejected for late filing; ``reason`` always (it is shown with the decision)."""

    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": _EXAMPLES})
    involuntary: Annotated[StrictBool | None, Field(
        description="The loss under « Autre » or « Accident de travail » was involuntary (true) or not.")] = None  # fmt: skip
    force_majeure: Annotated[StrictBool | None, Field(
        description="true: excuse a filing after the deadline; the rules decide the claim again without it.",
        json_schema_extra={"enum": [True]})] = None  # fmt: skip
    reason: Annotated[StrictStr, Field(description=f"Why (at most {review.MAX_REASON_LENGTH} characters).")]


# Each refusal of the domain (review.InvalidReview's codes) in both languages, with the field it concerns.
_WORDS: dict[str, tuple[str, str, str | None]] = {
    review.REASON_REQUIRED: ("Une décision d'agent est motivée : indiquez la raison.", "يجب تعليل قرار العون.",
                             "reason"),
    review.REASON_TOO_LONG: (f"La raison est limitée à {review.MAX_REASON_LENGTH} caractères.",
                             f"التعليل محدود في {review.MAX_REASON_LENGTH} حرفا.", "reason"),
    review.MOTIF_NOT_REVIEWABLE: ("Ce motif est jugé par les règles : la demande n'est pas en examen.",
                                  "هذا السبب تحكم فيه القواعد: الطلب ليس قيد الدراسة.", "involuntary"),
    review.ALREADY_DECIDED: ("La demande est déjà décidée : elle n'est plus en examen.",
                             "تم البت في الطلب: لم يعد قيد الدراسة.", None),
    review.ALREADY_RULED: ("Un agent a déjà statué sur ce motif.", "سبق لعون أن بت في هذا السبب.", None),
    review.NOT_REJECTED_LATE: ("Seule une demande rejetée pour dépôt tardif peut être admise pour force majeure.",
                               "وحده الطلب المرفوض لتأخر الإيداع يمكن قبوله لقوة قاهرة.", "force_majeure"),
    review.NOT_FILED_LATE: ("La demande a été déposée dans le délai : rien à excuser.",
                            "تم إيداع الطلب داخل الأجل: لا شيء يستدعي العذر.", "force_majeure"),
    review.LATER_CLAIM_OPEN: ("Une demande plus récente de l'assuré est en cours : une seule demande ouverte à la "
                              "fois.", "للمؤمن له طلب أحدث قيد المعالجة: طلب مفتوح واحد في كل مرة.", "force_majeure"),
}  # fmt: skip


def refusal(exc: InvalidReview) -> ApiError:
    """The API's refusal for a ruling the domain refused, under the domain's code."""
    message_fr, message_ar, field = _WORDS.get(exc.code, (str(exc), str(exc), None))
    return ApiError(exc.code, message_fr, message_ar, field)


def _one_ruling(body: ReviewRequest) -> None:
    if (body.involuntary is None) == (body.force_majeure is None) or body.force_majeure is False:
        raise ApiError("invalid_review", "Indiquez soit « involuntary » (true ou false), soit « force_majeure » "
                       "(true).", "حددوا إما involuntary (true أو false) وإما force_majeure (true).",
                       "involuntary" if body.force_majeure is None else "force_majeure")  # fmt: skip


@router.post("/{claim_id}/review", responses=errors.AUTHENTICATED | errors.documented(404, 409))
def review_claim(claim_id: str, body: ReviewRequest, agent: Agent, conn: Db, store: Store, clock: Now,
                 request: Request) -> DecimalJSONResponse:  # fmt: skip
    """An agent rules on a claim in review (stage ``review``), whose decision then follows from the rules,
    or grants force majeure to a claim rejected for late filing, decided again as a new decision. Answers the
    decision explained (``GET …/decision``). A claim not in review: 409 with the domain's code."""
    _one_ruling(body)
    found = parse_uuid(claim_id)
    reviewer = Reviewer(store, DeclarationsOnConnection(conn), clock, decided_by=DECIDED_BY)
    acting = ActingAgent(agent.username, agent.agency or "")
    try:
        if body.force_majeure:
            claim = reviewer.grant_force_majeure(found, body.reason, acting)
        else:
            claim = reviewer.rule_on_motif(found, bool(body.involuntary), body.reason, acting)
    except AggregateNotFoundError:
        raise errors.not_found() from None
    except InvalidReview as exc:
        raise refusal(exc) from exc
    except IntegrityError as exc:
        raise ApiError("claim_changed", "La demande change en ce moment ; réessayez.",
                       "الطلب يتغير الآن؛ أعيدوا المحاولة.") from exc  # fmt: skip
    action = "claim.force_majeure" if body.force_majeure else "claim.review"
    access_log.record(conn, agent, action, [{"claim_id": claim.id, "affiliation_number": claim.affiliation_number,
                      "immatriculation": claim.immatriculation}], request_id(request))  # fmt: skip
    return DecimalJSONResponse(explanation(claim, with_figures=True))
