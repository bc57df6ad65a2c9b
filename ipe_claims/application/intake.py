"""What a submission must be to become a claim, whatever the transport: the rules it can break before any
lookup, the facts it gives once its insured is found as declared, and the refusals, each with a stable code,
French and Arabic messages and the field at fault.

A refusal says nothing of HTTP: the API maps its code to a status (``services/claim_intake/errors.py``) and
the Kafka ingress puts the same code on its dead-letter record. Filing itself is ``filing.py``.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Collection
from dataclasses import dataclass
from datetime import date
from typing import Any, NamedTuple

from ipe_claims.domain.claim import NAMESPACE, Claim
from ipe_claims.domain.dates import CASABLANCA
from ipe_claims.domain.motifs import MOTIFS
from ipe_claims.domain.rules import SCHEME_START, judgeable_loss

_ISO_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")


class Refusal(Exception):
    """Why a request is refused: a machine code, the words for the French and Arabic reader, the field at
    fault, and ``retry_after`` seconds when trying again later may succeed."""

    def __init__(self, code: str, message_fr: str, message_ar: str, field: str | None = None, *,
                 retry_after: int | None = None) -> None:  # fmt: skip
        super().__init__(code)
        self.code = code
        self.message_fr = message_fr
        self.message_ar = message_ar
        self.field = field
        self.retry_after = retry_after


def not_found(field: str | None = "claim") -> Refusal:
    return Refusal("not_found", "Introuvable.", "غير موجود.", field)


def invalid_value(field: str) -> Refusal:
    """A value Postgres text cannot hold (NUL) or a query value of the wrong shape."""
    return Refusal("invalid_type", f"Valeur invalide pour {field}.", f"قيمة غير صالحة في {field}.", field)


@dataclass(frozen=True)
class Submission:
    """What a portal asks for, whatever the transport."""

    affiliation_number: str
    immatriculation: str
    job_loss_date: str
    motif_code: str
    attestation: bool


class Declared(NamedTuple):
    """The insured as an affiliation declared them."""

    cin: str
    nom: str
    prenoms: str


def calendar_date(text: str) -> date | None:
    """A YYYY-MM-DD date; `date.fromisoformat` alone also reads 20260101 and week dates (2026-W01-1)."""
    if not _ISO_DATE.fullmatch(text):
        return None
    try:
        return date.fromisoformat(text)
    except ValueError:
        return None


def nul_field(submission: Submission) -> str | None:
    """A field holding NUL, which Postgres text cannot hold (so it must not be sent)."""
    return next((name for name, value in vars(submission).items() if isinstance(value, str) and "\x00" in value),
                None)  # fmt: skip


def check(submission: Submission, affiliations: Collection[str] | None, today: date) -> date:
    """The rules a submission can break before any lookup, in the order they are reported; the job-loss
    date when it breaks none."""
    if name := nul_field(submission):  # a wrong value, not a crash
        raise invalid_value(name)
    if affiliations is not None and submission.affiliation_number not in affiliations:
        raise not_found("affiliation_number")
    if submission.motif_code not in MOTIFS:
        raise Refusal("unknown_motif", "Motif de perte d'emploi inconnu.", "سبب فقدان الشغل غير معروف.",
                      "motif_code")  # fmt: skip
    loss = calendar_date(submission.job_loss_date)
    if loss is None:
        raise Refusal("invalid_date", "Date de perte d'emploi illisible (AAAA-MM-JJ).",
                      "تاريخ فقدان الشغل غير مقروء (YYYY-MM-DD).", "job_loss_date")  # fmt: skip
    if loss > today:
        raise Refusal("job_loss_date_in_future", "La date de perte d'emploi est dans le futur.",
                      "تاريخ فقدان الشغل في المستقبل.", "job_loss_date")  # fmt: skip
    if not judgeable_loss(loss):
        raise Refusal("job_loss_date_before_scheme",
                      f"La date de perte d'emploi est antérieure au {SCHEME_START:%d/%m/%Y}, début de l'IPE "
                      "(loi n° 03-14).",
                      f"تاريخ فقدان الشغل سابق لـ {SCHEME_START:%d/%m/%Y}، تاريخ بدء العمل بالتعويض عن فقدان "
                      "الشغل (القانون رقم 03.14).", "job_loss_date")  # fmt: skip
    if not submission.attestation:
        raise Refusal("attestation_required",
                      "Vous devez attester l'exactitude des informations liées à la perte d'emploi.",
                      "يجب الإشهاد بصحة المعلومات المتعلقة بفقدان الشغل.", "attestation")  # fmt: skip
    return loss


def facts_of(submission: Submission, loss: date, person: Declared | None) -> dict[str, Any]:
    """The claim's facts from a checked submission and the insured as its affiliation declared them, or the
    refusal when that affiliation never declared them."""
    if person is None:
        raise Refusal("insured_not_declared", "Cet assuré n'a jamais été déclaré par cette affiliation.",
                      "لم يسبق لهذا الانخراط التصريح بهذا المؤمن له.", "immatriculation")  # fmt: skip
    return {"affiliation_number": submission.affiliation_number, "immatriculation": submission.immatriculation,
            "job_loss_date": loss, "motif_code": submission.motif_code, "attestation": True, "cin": person.cin,
            "nom": person.nom, "prenoms": person.prenoms}  # fmt: skip


def claim_id_for(submitter: str, idempotency_key: str | None) -> uuid.UUID:
    """Deterministic when the caller gives a key, so a retry finds the claim its first try made."""
    return uuid.uuid5(NAMESPACE, f"{submitter}:{idempotency_key}") if idempotency_key else uuid.uuid4()


def open_claim_exists() -> Refusal:
    return Refusal("open_claim_exists", "Une demande est déjà en cours pour cet assuré.",
                   "يوجد طلب مفتوح لهذا المؤمن له.", "immatriculation")  # fmt: skip


def idempotency_key_reused() -> Refusal:
    return Refusal("idempotency_key_reused", "Cette clé d'idempotence a servi pour une autre demande.",
                   "مفتاح عدم التكرار هذا استعمل لطلب آخر.", "Idempotency-Key")  # fmt: skip


def invalid_bounds() -> Refusal:
    """A value the store refuses (a date out of its range, say)."""
    return Refusal("invalid_value", "Valeur hors des limites acceptées.", "قيمة خارج الحدود المقبولة.")


def asks_for(claim: Claim, facts: dict[str, Any]) -> bool:
    """Whether the stored claim is what ``facts`` ask for (else an idempotency key reused elsewhere)."""
    asked = {key: value for key, value in facts.items() if key not in ("cin", "nom", "prenoms")}
    return all(getattr(claim, key) == value for key, value in asked.items())


def claim_row(claim: Claim) -> dict[str, Any]:
    """The history-table row of a claim, straight from the aggregate (the read model may lag)."""
    decision = claim.decision
    decided_or_filed = claim.modified_on if decision else claim.filed_at
    return {
        "claim_id": str(claim.id), "immatriculation": claim.immatriculation, "cin": claim.cin, "nom": claim.nom,
        "prenoms": claim.prenoms, "affiliation_number": claim.affiliation_number, "motif_code": claim.motif_code,
        "motif_label": MOTIFS[claim.motif_code].label_fr, "job_loss_date": claim.job_loss_date.isoformat(),
        "situation": claim.situation, "situation_date": decided_or_filed.astimezone(CASABLANCA).date().isoformat(),
        "rejection_code": decision.rejection_code if decision else None,
        "rejection_reason": decision.rejection_reason_fr if decision else None,
        "monthly_amount": decision.monthly_amount if decision else None,
        "duration_months": decision.duration_months if decision else None,
    }  # fmt: skip
