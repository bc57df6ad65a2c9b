"""The intake service: what HTTP and the Kafka ingress share to turn a submission into a claim.

A refusal carries a stable code, French and Arabic messages, the field at fault, and the HTTP status it
maps to; the Kafka ingress puts the same code on its dead-letter record.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

import psycopg
from psycopg.rows import tuple_row

from ipe_claims.application.claims import ClaimsApplication
from ipe_claims.domain.claim import NAMESPACE, Claim, InsuredRecord, OpenClaimExists
from ipe_claims.domain.dates import CASABLANCA
from ipe_claims.domain.motifs import MOTIFS
from ipe_claims.domain.rules import SCHEME_START, judgeable_loss

_ISO_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")


class Refusal(Exception):
    def __init__(self, status: int, code: str, message_fr: str, message_ar: str, field: str | None = None,
                 headers: dict[str, str] | None = None) -> None:  # fmt: skip
        super().__init__(code)
        self.status = status
        self.code = code
        self.message_fr = message_fr
        self.message_ar = message_ar
        self.field = field
        self.headers = headers


def not_found(field: str | None = "claim") -> Refusal:
    return Refusal(404, "not_found", "Introuvable.", "غير موجود.", field)


@dataclass(frozen=True)
class Submission:
    """What a portal asks for, whatever the transport."""

    affiliation_number: str
    immatriculation: str
    job_loss_date: str
    motif_code: str
    attestation: bool


def calendar_date(text: str) -> date | None:
    """A YYYY-MM-DD date; `date.fromisoformat` alone also reads 20260101 and week dates (2026-W01-1)."""
    if not _ISO_DATE.fullmatch(text):
        return None
    try:
        return date.fromisoformat(text)
    except ValueError:
        return None


# The insured as each (immatriculation, affiliation) pair's affiliation declared them: (n, cin, nom, prenoms)
# for the n-th pair (from 1); no row when that affiliation never declared the insured.
_PEOPLE = (
    "SELECT w.n, i.cin, i.nom, i.prenoms FROM unnest(%s::text[], %s::text[]) WITH ORDINALITY AS w(imm, aff, n) "
    "JOIN insured i ON i.immatriculation = w.imm WHERE EXISTS (SELECT 1 FROM declarations d "
    "WHERE d.immatriculation = w.imm AND d.affiliation_number = w.aff)"
)


def _nul_field(submission: Submission) -> str | None:
    """A field holding NUL, which Postgres text cannot hold (so it must not be sent)."""
    return next((name for name, value in vars(submission).items() if isinstance(value, str) and "\x00" in value),
                None)  # fmt: skip


def check(submission: Submission, affiliations: Collection[str] | None, today: date) -> date:
    """The rules a submission can break before any lookup, in the order they are reported; the job-loss
    date when it breaks none."""
    if name := _nul_field(submission):  # a wrong value, not a crash
        raise Refusal(
            400, "invalid_type", f"Valeur invalide pour {name}.", f"قيمة غير صالحة في {name}.", name
        )
    if affiliations is not None and submission.affiliation_number not in affiliations:
        raise not_found("affiliation_number")
    if submission.motif_code not in MOTIFS:
        raise Refusal(422, "unknown_motif", "Motif de perte d'emploi inconnu.", "سبب فقدان الشغل غير معروف.",
                      "motif_code")  # fmt: skip
    loss = calendar_date(submission.job_loss_date)
    if loss is None:
        raise Refusal(422, "invalid_date", "Date de perte d'emploi illisible (AAAA-MM-JJ).",
                      "تاريخ فقدان الشغل غير مقروء (YYYY-MM-DD).", "job_loss_date")  # fmt: skip
    if loss > today:
        raise Refusal(422, "job_loss_date_in_future", "La date de perte d'emploi est dans le futur.",
                      "تاريخ فقدان الشغل في المستقبل.", "job_loss_date")  # fmt: skip
    if not judgeable_loss(loss):
        raise Refusal(422, "job_loss_date_before_scheme",
                      f"La date de perte d'emploi est antérieure au {SCHEME_START:%d/%m/%Y}, début de l'IPE "
                      "(loi n° 03-14).",
                      f"تاريخ فقدان الشغل سابق لـ {SCHEME_START:%d/%m/%Y}، تاريخ بدء العمل بالتعويض عن فقدان "
                      "الشغل (القانون رقم 03.14).", "job_loss_date")  # fmt: skip
    if not submission.attestation:
        raise Refusal(422, "attestation_required",
                      "Vous devez attester l'exactitude des informations liées à la perte d'emploi.",
                      "يجب الإشهاد بصحة المعلومات المتعلقة بفقدان الشغل.", "attestation")  # fmt: skip
    return loss


def facts_of(submission: Submission, loss: date, person: tuple[Any, ...] | None) -> dict[str, Any]:
    """The claim's facts from a checked submission and the insured as its affiliation declared them
    (``person``: cin, nom, prenoms), or the refusal when that affiliation never declared them."""
    if person is None:
        raise Refusal(422, "insured_not_declared", "Cet assuré n'a jamais été déclaré par cette affiliation.",
                      "لم يسبق لهذا الانخراط التصريح بهذا المؤمن له.", "immatriculation")  # fmt: skip
    cin, nom, prenoms = person
    return {"affiliation_number": submission.affiliation_number, "immatriculation": submission.immatriculation,
            "job_loss_date": loss, "motif_code": submission.motif_code, "attestation": True, "cin": cin,
            "nom": nom, "prenoms": prenoms}  # fmt: skip


def validate(conn: psycopg.Connection[Any], submission: Submission, affiliations: Collection[str] | None,
             today: date) -> dict[str, Any]:  # fmt: skip
    """The claim's facts (with the insured's identity as declared), or the first rule it breaks.

    ``affiliations`` are those the submitter acts for; None for a ``portal`` account, which may submit
    for any affiliation (the insured must still have been declared by it).
    """
    loss = check(submission, affiliations, today)
    return facts_of(submission, loss, declared_people(conn, [submission])[0])


def declared_people(
    conn: psycopg.Connection[Any], submissions: list[Submission]
) -> list[tuple[Any, ...] | None]:
    """``validate``'s lookup for many submissions in one query: each one's insured as its affiliation
    declared them (cin, nom, prenoms), None when that affiliation never declared them."""
    if not submissions:
        return []
    rows = (
        conn.cursor(row_factory=tuple_row)
        .execute(
            _PEOPLE, ([s.immatriculation for s in submissions], [s.affiliation_number for s in submissions])
        )
        .fetchall()
    )
    people: list[tuple[Any, ...] | None] = [None] * len(submissions)
    for n, *person in rows:
        people[n - 1] = tuple(person)
    return people


class Lookups:
    """Every read a batch of submissions needs, sent at once (inside ``conn.pipeline()`` they share one round
    trip with what the caller sends next): two statements whatever their number (the insured as each one's
    affiliation declared them; the events of every claim id and insured's record). Submissions
    in one batch must name distinct claims and insured (a later one is looked up after the earlier one is
    saved). ``collect()`` once the pipeline is over, then ``facts(n, …)`` and ``known(n)`` per submission."""

    def __init__(self, conn: psycopg.Connection[Any], store: ClaimsApplication,
                 asks: Sequence[tuple[Submission, uuid.UUID]]) -> None:  # fmt: skip
        self.store = store
        self.asks = list(asks)
        self._readable = [n for n, (submission, _) in enumerate(self.asks) if not _nul_field(submission)]
        self.people: list[tuple[Any, ...] | None] = [None] * len(self.asks)
        self.aggregates: dict[uuid.UUID, Any] = {}
        self._person: psycopg.Cursor[Any] | None = None
        self._events: psycopg.Cursor[Any] | None = None
        if not self._readable:
            return
        readable = [self.asks[n] for n in self._readable]
        self._person = conn.cursor(row_factory=tuple_row).execute(
            _PEOPLE, ([s.immatriculation for s, _ in readable], [s.affiliation_number for s, _ in readable])
        )
        ids = [one for s, claim_id in readable for one in (claim_id, InsuredRecord.id_for(s.immatriculation))]
        self._events = conn.cursor(row_factory=tuple_row).execute(store.events_statement, (ids,))

    def collect(self) -> None:
        if self._person is None or self._events is None:
            return
        for n, *person in self._person.fetchall():
            self.people[self._readable[n - 1]] = tuple(person)
        self.aggregates = self.store.aggregates_from(self._events.fetchall())

    def facts(self, n: int, affiliations: Collection[str] | None, today: date) -> dict[str, Any]:
        submission = self.asks[n][0]
        return facts_of(submission, check(submission, affiliations, today), self.people[n])

    def known(self, n: int) -> dict[uuid.UUID, Any]:
        submission, claim_id = self.asks[n]
        ids = (claim_id, InsuredRecord.id_for(submission.immatriculation))
        return {one: self.aggregates[one] for one in ids if one in self.aggregates}


def claim_id_for(submitter: str, idempotency_key: str | None) -> uuid.UUID:
    """Deterministic when the caller gives a key, so a retry finds the claim its first try made."""
    return uuid.uuid5(NAMESPACE, f"{submitter}:{idempotency_key}") if idempotency_key else uuid.uuid4()


def submit(store: ClaimsApplication, claim_id: uuid.UUID, facts: dict[str, Any], submitted_by: str,
           channel: str, filed_at: datetime, committer: Any = None) -> Claim:  # fmt: skip
    """The claim as it was submitted (version 1), new or found by its id: a retry gets the first answer.

    A ``committer`` (anything with ``submit(claim_id, filed_at, **submitted)``, e.g. the ingress's poll)
    saves it instead of the store, so that many submissions share one transaction.
    """
    try:
        claim = (committer or store).submit(
            claim_id, filed_at=filed_at, submitted_by=submitted_by, channel=channel, **facts
        )
    except OpenClaimExists as exc:
        raise open_claim_exists() from exc
    return first_answer(store, claim, facts)


def open_claim_exists() -> Refusal:
    return Refusal(409, "open_claim_exists", "Une demande est déjà en cours pour cet assuré.",
                   "يوجد طلب مفتوح لهذا المؤمن له.", "immatriculation")  # fmt: skip


def first_answer(store: ClaimsApplication, claim: Claim, facts: dict[str, Any]) -> Claim:
    """The claim as ``submit`` answers it: as first submitted (version 1), or the refusal when the stored
    claim is not what ``facts`` ask for (an idempotency key reused for another submission)."""
    asked = {key: value for key, value in facts.items() if key not in ("cin", "nom", "prenoms")}
    if any(getattr(claim, key) != value for key, value in asked.items()):
        raise Refusal(422, "idempotency_key_reused", "Cette clé d'idempotence a servi pour une autre demande.",
                      "مفتاح عدم التكرار هذا استعمل لطلب آخر.", "Idempotency-Key")  # fmt: skip
    if claim.version == 1:
        return claim
    first: Any = store.repository.get(claim.id, version=1)
    assert isinstance(first, Claim)
    return first


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
