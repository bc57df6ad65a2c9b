"""The worker's dossier: which documents a claim needs, where each stands, and the deadline to complete it.

What is required follows from the claim's motif, the worker's nationality and what the labour inspector
found, by dated rules like the eligibility rules, so a replay asks for the same pieces years later.
An agent records each piece as received, verified or refused (with a reason); the dossier is complete when
every required piece is verified. Sources and choices: docs/rules.md, "After the decision".
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, timedelta

from ipe_claims.domain.errors import CodedError
from ipe_claims.domain.motifs import get_motif
from ipe_claims.domain.rib import Rib, parse_rib
from ipe_claims.domain.rules import SCHEME_START

MISSING, RECEIVED, VERIFIED, REFUSED = "missing", "received", "verified", "refused"
RECORDABLE_STATUSES = (RECEIVED, VERIFIED, REFUSED)

FORMULAIRE = "formulaire_demande"
CIN = "copie_cin"
TITRE_SEJOUR = "titre_sejour_ou_passeport"
PV_INSPECTION = "pv_inspection_travail"
CONTRAT = "contrat_travail"
JUGEMENT = "jugement_definitif"
RIB = "rib"
ANAPEC = "attestation_anapec"

MAX_REASON_LENGTH = 500

# InvalidDocument codes (a RIB's own errors are rib.py's codes)
DOCUMENT_KIND_UNKNOWN = "document_kind_unknown"
DOCUMENT_STATUS_INVALID = "document_status_invalid"
REASON_REQUIRED = "reason_required"
REASON_TOO_LONG = "reason_too_long"
RIB_NOT_EXPECTED = "rib_not_expected"
RIB_REQUIRED = "rib_required"
SCAN_DIGEST_INVALID = "scan_digest_invalid"
CLAIM_CLOSED = "claim_closed"


class InvalidDocument(CodedError):
    """A document record the dossier cannot take; ``code`` says what is wrong, the message says why."""


@dataclass(frozen=True)
class DossierFacts:
    """What decides the list: the motif, whether the worker is foreign, and the inspector's finding."""

    motif_code: str
    foreign_worker: bool
    conciliation_failed: bool = False  # the inspector's PV records no conciliation: a judgment follows

    def __post_init__(self) -> None:
        get_motif(self.motif_code)


@dataclass(frozen=True)
class DocumentRule:
    """One piece of the list, and the claims that need it."""

    kind: str
    label_fr: str
    label_ar: str
    source: str
    foreign_worker: bool | None = None  # None: every worker; True/False: only foreign/Moroccan ones
    motifs: frozenset[str] | None = None  # None: every motif
    only_without_conciliation: bool = False

    def required_for(self, facts: DossierFacts) -> bool:
        return (
            (self.foreign_worker is None or self.foreign_worker == facts.foreign_worker)
            and (self.motifs is None or facts.motif_code in self.motifs)
            and (not self.only_without_conciliation or facts.conciliation_failed)
        )


@dataclass(frozen=True)
class DossierRules:
    """One version of the list and of the deadline; published versions are never edited, only added."""

    version: str
    effective_from: date
    documents: tuple[DocumentRule, ...]
    deadline_days_after_loss: int  # the article: the documents within 60 days of the loss
    min_days_after_filing: int  # a choice: the worker always has this long after the employer files
    min_days_after_acceptance: int  # a choice: and this long after the claim is decided Valable
    reminder_days_before_deadline: int  # a choice: the worker still owing pieces is reminded from then on

    @property
    def kinds(self) -> frozenset[str]:
        return frozenset(document.kind for document in self.documents)


DOSSIER_RULES: tuple[DossierRules, ...] = (
    DossierRules(
        version="dossier-2014.1",
        effective_from=SCHEME_START,
        documents=(
            DocumentRule(
                FORMULAIRE,
                "Formulaire de demande d'indemnité pour perte d'emploi (310-1-26)",
                "استمارة طلب التعويض عن فقدان الشغل (310-1-26)",
                "[S1][S15], Article",
            ),
            DocumentRule(
                CIN,
                "Copie de la carte nationale d'identité",
                "نسخة من البطاقة الوطنية للتعريف",
                "[S1], Article",
                foreign_worker=False,
            ),
            DocumentRule(
                TITRE_SEJOUR,
                "Copie de la carte de résidence ou du passeport",
                "نسخة من بطاقة الإقامة أو جواز السفر",
                "[S1], Article",
                foreign_worker=True,
            ),
            DocumentRule(
                PV_INSPECTION,
                "Procès-verbal de l'inspecteur du travail mentionnant le motif et la date de la perte d'emploi",
                "محضر مفتش الشغل يبين سبب وتاريخ فقدان الشغل",
                "[S1], Article",
            ),
            DocumentRule(
                CONTRAT,
                "Copie du contrat de travail",
                "نسخة من عقد الشغل",
                "[S1], Article",
                motifs=frozenset({"fin_cdd"}),
            ),
            DocumentRule(
                JUGEMENT,
                "Copie du jugement définitif du tribunal",
                "نسخة من الحكم النهائي للمحكمة",
                "Article, [S10][S30]",
                only_without_conciliation=True,
            ),
            DocumentRule(
                RIB,
                "Attestation de RIB d'un compte bancaire marocain",
                "شهادة التعريف البنكي لحساب بنكي مغربي",
                "[S18], Article",
            ),
            DocumentRule(
                ANAPEC,
                "Attestation d'inscription à l'ANAPEC",
                "شهادة التسجيل بالوكالة الوطنية لإنعاش التشغيل والكفاءات",
                "[S2][S5][S6], Article",
            ),
        ),
        deadline_days_after_loss=60,
        min_days_after_filing=30,
        min_days_after_acceptance=30,
        reminder_days_before_deadline=10,
    ),
)


def dossier_rules_for(job_loss_date: date) -> DossierRules:
    """The list in force at the job-loss date, as for the eligibility rules."""
    in_force = [rules for rules in DOSSIER_RULES if rules.effective_from <= job_loss_date]
    return in_force[-1] if in_force else DOSSIER_RULES[0]


def required_documents(facts: DossierFacts, rules: DossierRules) -> tuple[DocumentRule, ...]:
    return tuple(document for document in rules.documents if document.required_for(facts))


def dossier_deadline(
    rules: DossierRules, job_loss_date: date, filed_on: date, valable_on: date | None
) -> date:
    """The last day to complete the dossier: 60 days after the loss, never less than 30 after filing, nor,
    once the claim is Valable (``valable_on``: the day of its first Valable decision), 30 after that day,
    so a claim decided late (an agent's review, a declaration awaited, force majeure) still leaves time."""
    deadline = max(
        job_loss_date + timedelta(days=rules.deadline_days_after_loss),
        filed_on + timedelta(days=rules.min_days_after_filing),
    )
    return deadline if valable_on is None else deadline_once_valable(rules, deadline, valable_on)


def deadline_once_valable(rules: DossierRules, deadline: date, valable_on: date) -> date:
    """The ``deadline`` a claim had before its first Valable decision (on ``valable_on``), moved to leave
    the worker ``min_days_after_acceptance`` after it; the read model moves its row's deadline with it."""
    return max(deadline, valable_on + timedelta(days=rules.min_days_after_acceptance))


@dataclass(frozen=True)
class DocumentRecord:
    """An agent's record of one piece; the latest record of a kind is where it stands."""

    kind: str
    status: str
    recorded_on: date
    reason: str | None = None
    rib: Rib | None = None


def document_record(
    rules: DossierRules,
    kind: str,
    status: str,
    recorded_on: date,
    reason: str | None = None,
    rib: str | None = None,
) -> DocumentRecord:
    """A checked record: a known kind, a recordable status, a reason for a refusal, a valid RIB for the RIB.

    Raises InvalidDocument, or InvalidRib (rib.py) naming what is wrong with the 24 digits.
    """
    if kind not in rules.kinds:
        raise InvalidDocument(
            DOCUMENT_KIND_UNKNOWN, f"unknown document kind {kind!r}; known: {', '.join(sorted(rules.kinds))}"
        )
    if status not in RECORDABLE_STATUSES:
        raise InvalidDocument(
            DOCUMENT_STATUS_INVALID, f"status must be one of {', '.join(RECORDABLE_STATUSES)}, not {status!r}"
        )
    text = (reason or "").strip() or None
    if status == REFUSED and text is None:
        raise InvalidDocument(REASON_REQUIRED, "a refused document states the reason")
    if text is not None and len(text) > MAX_REASON_LENGTH:
        raise InvalidDocument(REASON_TOO_LONG, f"the reason is limited to {MAX_REASON_LENGTH} characters")
    if rib is not None and kind != RIB:
        raise InvalidDocument(RIB_NOT_EXPECTED, "a RIB's digits belong to the RIB document only")
    if kind == RIB and status != REFUSED and rib is None:
        raise InvalidDocument(RIB_REQUIRED, "the RIB's 24 digits are recorded with the RIB document")
    account = parse_rib(rib) if rib is not None else None
    return DocumentRecord(kind, status, recorded_on, text, account)


@dataclass(frozen=True)
class DocumentStatus:
    kind: str
    label_fr: str
    label_ar: str
    status: str
    reason: str | None


@dataclass(frozen=True)
class Dossier:
    required: tuple[DocumentStatus, ...]
    completed_on: date | None  # the day the last missing piece was verified, None while incomplete

    @property
    def complete(self) -> bool:
        return self.completed_on is not None

    @property
    def not_verified(self) -> tuple[DocumentStatus, ...]:
        return tuple(document for document in self.required if document.status != VERIFIED)

    @property
    def owed(self) -> tuple[DocumentStatus, ...]:
        """The pieces the worker still has to bring: missing or refused (a piece received waits on the
        agency, not on them)."""
        return tuple(document for document in self.required if document.status in (MISSING, REFUSED))


def dossier_state(facts: DossierFacts, rules: DossierRules, records: Sequence[DocumentRecord]) -> Dossier:
    """Where each required piece stands after ``records`` (in the order recorded), and since when the
    dossier is complete: a piece verified then refused makes it incomplete again."""
    required = required_documents(facts, rules)
    latest: dict[str, DocumentRecord] = {}
    completed_on: date | None = None
    for record in records:
        latest[record.kind] = record
        complete = all(doc.kind in latest and latest[doc.kind].status == VERIFIED for doc in required)
        completed_on = (completed_on or record.recorded_on) if complete else None
    statuses = tuple(
        DocumentStatus(
            doc.kind,
            doc.label_fr,
            doc.label_ar,
            latest[doc.kind].status if doc.kind in latest else MISSING,
            latest[doc.kind].reason if doc.kind in latest else None,
        )
        for doc in required
    )
    return Dossier(statuses, completed_on)


def dossier_on(
    facts: DossierFacts, rules: DossierRules, records: Sequence[DocumentRecord], day: date
) -> Dossier:
    """The dossier as it stood at the end of ``day``: the records made on or before it."""
    return dossier_state(facts, rules, [record for record in records if record.recorded_on <= day])


def dossier_expired(at_deadline: Dossier, deadline: date, observed_on: date) -> bool:
    """Whether the claim ends for an incomplete dossier (dossier_rejection.py): ``at_deadline`` is the
    dossier on its deadline (``dossier_on``), so the answer does not depend on when someone looks, and a
    piece refused after a complete deadline does not end the claim."""
    return not at_deadline.complete and observed_on > deadline
