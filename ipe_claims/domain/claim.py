"""The claim (demande IPE) aggregate and the insured's record that keeps one claim open at a time.

Events are the library's explicit event classes; the aggregate checks an invariant, then records an event.
"""

from __future__ import annotations

import uuid
from dataclasses import field
from datetime import date, datetime
from typing import Any

from eventsourcing.domain import Aggregate

from ipe_claims.domain import dossier, payments, review
from ipe_claims.domain.claim_life import (
    AgentRuling,
    DecisionRecord,
    PaymentLine,
    RecordedDocument,
    check_agent,
    is_scan_digest,
    rib_of,
)
from ipe_claims.domain.dates import local_date
from ipe_claims.domain.dossier import DocumentRecord, DossierFacts, InvalidDocument
from ipe_claims.domain.dossier_rejection import (
    CLAIM_NOT_VALABLE,
    DossierNotExpired,
    reject_incomplete_dossier,
)
from ipe_claims.domain.dossier_reminder import dossier_reminder
from ipe_claims.domain.errors import DomainError
from ipe_claims.domain.lifecycle import AwaitedDeclaration, InvalidReturnToWork, ReturnToWork
from ipe_claims.domain.motifs import get_motif
from ipe_claims.domain.payments import InvalidPayment
from ipe_claims.domain.review import InvalidReview, MotifRuling
from ipe_claims.domain.rib import Rib
from ipe_claims.domain.rules import REJETE, VALABLE, Decision, benefit_end, ruleset_for

EN_COURS = "En cours"
NAMESPACE = uuid.UUID("6f1c2b1e-6a41-4c39-9a0e-3f0b5d1c1e2a")


class ClaimAlreadyDecided(DomainError):
    """A claim is decided once; a redelivered submission must not decide it again."""


class OpenClaimExists(DomainError):
    """The insured already has a claim that is neither rejected nor past its benefit period."""

    def __init__(self, claim_id: uuid.UUID) -> None:
        super().__init__(f"claim {claim_id} is still open for this insured")
        self.claim_id = claim_id


def event_id(claim_id: uuid.UUID, version: int) -> uuid.UUID:
    """A stable id for the ``version``-th event of a claim, so a re-published event is recognisable."""
    return uuid.uuid5(claim_id, str(version))


class Claim(Aggregate):
    """A demande IPE: filed by an employer for one insured; decided once by the eligibility rules."""

    class Submitted(Aggregate.Created):
        affiliation_number: str
        immatriculation: str
        cin: str
        nom: str
        prenoms: str
        job_loss_date: date
        motif_code: str
        attestation: bool
        filed_at: datetime
        submitted_by: str
        channel: str

    class Decided(Aggregate.Event):
        decision: dict[str, Any]
        decided_by: str

        def apply(self, aggregate: Aggregate) -> None:
            assert isinstance(aggregate, Claim)
            aggregate.decision = Decision.from_dict(self.decision)
            aggregate.decisions.append(DecisionRecord(aggregate.decision, self.decided_by, self.timestamp))
            aggregate.awaiting = None

    class AwaitingDeclaration(Aggregate.Event):
        """The decision waits for the claiming affiliation's declaration of ``month`` (due by ``due``)."""

        affiliation_number: str
        month: date
        due: date

        def apply(self, aggregate: Aggregate) -> None:
            assert isinstance(aggregate, Claim)
            aggregate.awaiting = AwaitedDeclaration(self.affiliation_number, self.month, self.due)

    class DeclarationWaitExpired(Aggregate.Event):
        """Whoever observed that the due date had passed recorded it: the clock enters the log here."""

        month: date
        observed_on: date

        def apply(self, aggregate: Aggregate) -> None:
            assert isinstance(aggregate, Claim)
            aggregate.awaiting = None

    class ReturnedToWork(Aggregate.Event):
        return_date: date
        declared_on: date
        months_due: int
        benefit_end: date
        late_notice: bool
        declared_by: str

        def apply(self, aggregate: Aggregate) -> None:
            assert isinstance(aggregate, Claim)
            aggregate.returned = ReturnToWork(
                self.return_date, self.declared_on, self.months_due, self.benefit_end, self.late_notice
            )

    class DocumentRecorded(Aggregate.Event):
        """An agent recorded a piece of the dossier. ``rib`` is the account's 24 digits (the RIB piece only,
        not when refused): the event store is their record; the Avro message and ``repr`` leave them out."""

        kind: str
        status: str
        reason: str | None
        sha256: str | None
        rib: str | None = field(repr=False)
        agent: str
        agency: str

        def apply(self, aggregate: Aggregate) -> None:
            assert isinstance(aggregate, Claim)
            rib = rib_of(self.rib) if self.rib is not None else None
            record = DocumentRecord(self.kind, self.status, local_date(self.timestamp), self.reason, rib)
            aggregate.documents.append(
                RecordedDocument(record, self.sha256, self.agent, self.agency, self.timestamp)
            )

    class ReviewRuled(Aggregate.Event):
        """An agent ruled whether the loss under a motif that needs judgement was involuntary."""

        involuntary: bool
        reason: str
        agent: str
        agency: str

        def apply(self, aggregate: Aggregate) -> None:
            assert isinstance(aggregate, Claim)
            aggregate.review = AgentRuling(
                self.reason, self.agent, self.agency, self.timestamp, self.involuntary
            )

    class ForceMajeureGranted(Aggregate.Event):
        """An agent excused a late filing; the claim's next event is its new decision."""

        reason: str
        agent: str
        agency: str

        def apply(self, aggregate: Aggregate) -> None:
            assert isinstance(aggregate, Claim)
            aggregate.force_majeure = AgentRuling(self.reason, self.agent, self.agency, self.timestamp)

    class DossierExpired(Aggregate.Event):
        """The dossier was incomplete on its deadline (seen ``observed_on``); a Rejeté decision follows."""

        deadline: date
        observed_on: date

        def apply(self, aggregate: Aggregate) -> None:
            assert isinstance(aggregate, Claim)
            aggregate.dossier_expired_on = self.deadline

    class DossierReminderDue(Aggregate.Event):
        """Seen ``observed_on``, within the reminder window before ``deadline``: the worker still owed the
        pieces ``owed`` (their kinds); the notifier reminds them, once per claim."""

        deadline: date
        observed_on: date
        owed: list[str]

        def apply(self, aggregate: Aggregate) -> None:
            assert isinstance(aggregate, Claim)
            aggregate.dossier_reminded_on = self.observed_on

    class PaymentsScheduled(Aggregate.Event):
        """The months (YYYY-MM) a Valable claim is paid in, each for ``amount_centimes``."""

        months: list[str]
        amount_centimes: int

        def apply(self, aggregate: Aggregate) -> None:
            assert isinstance(aggregate, Claim)
            for month in self.months:
                aggregate.payments[month] = PaymentLine(month, self.amount_centimes, payments.SCHEDULED)

    class PaymentIssued(Aggregate.Event):
        """The month's payment went out in the bank file ``file_id``."""

        month: str
        amount_centimes: int
        file_id: str

        def apply(self, aggregate: Aggregate) -> None:
            assert isinstance(aggregate, Claim)
            aggregate.payments[self.month] = PaymentLine(
                self.month,
                self.amount_centimes,
                payments.ISSUED,
                self.file_id,
                local_date(self.timestamp),
                self.timestamp,
            )

    class PaymentsCancelled(Aggregate.Event):
        """Months no longer paid: after a return to work, or a claim that ended."""

        months: list[str]

        def apply(self, aggregate: Aggregate) -> None:
            assert isinstance(aggregate, Claim)
            for month in self.months:
                line = aggregate.payments[month]
                aggregate.payments[month] = PaymentLine(month, line.amount_centimes, payments.CANCELLED)

    def __init__(
        self,
        *,
        affiliation_number: str,
        immatriculation: str,
        cin: str,
        nom: str,
        prenoms: str,
        job_loss_date: date,
        motif_code: str,
        attestation: bool,
        filed_at: datetime,
        submitted_by: str,
        channel: str,
    ) -> None:
        self.affiliation_number = affiliation_number
        self.immatriculation = immatriculation
        self.cin = cin
        self.nom = nom
        self.prenoms = prenoms
        self.job_loss_date = job_loss_date
        self.motif_code = motif_code
        self.attestation = attestation
        self.filed_at = filed_at
        self.submitted_by = submitted_by
        self.channel = channel
        self.decision: Decision | None = None
        self.awaiting: AwaitedDeclaration | None = None
        self.returned: ReturnToWork | None = None
        self.decisions: list[DecisionRecord] = []
        self.review: AgentRuling | None = None
        self.force_majeure: AgentRuling | None = None
        self.documents: list[RecordedDocument] = []
        self.dossier_expired_on: date | None = None
        self.dossier_reminded_on: date | None = None
        self.payments: dict[str, PaymentLine] = {}

    @classmethod
    def submit(cls, claim_id: uuid.UUID, **submitted: Any) -> Claim:
        """The claim as filed; its first event is timed at ``filed_at``, the instant the intake's clock gave."""
        return cls._create(cls.Submitted, id=claim_id, timestamp=submitted["filed_at"], **submitted)

    def decide(self, decision: Decision, decided_by: str, at: datetime | None = None) -> None:
        """Record the decision, timed ``at`` the decider's clock (the library's clock when not given).

        After an agent's ruling on the motif, only a decision reached with it (``decide_reviewed``)."""
        if self.decision is not None:
            raise ClaimAlreadyDecided(f"claim {self.id} is already decided")
        if not review.reached_with(decision, self.motif_ruling):
            raise InvalidReview(
                review.DECISION_IGNORES_RULING, "the decision ignores the agent's ruling on the motif"
            )
        self.trigger_event(self.Decided, decision=decision.to_dict(), decided_by=decided_by, timestamp=at)

    def await_declaration(self, awaited: AwaitedDeclaration, at: datetime | None = None) -> None:
        if self.decision is not None or self.awaiting is not None:
            raise DomainError(f"claim {self.id} is decided or already waiting")
        self.trigger_event(
            self.AwaitingDeclaration,
            affiliation_number=awaited.affiliation_number, month=awaited.month, due=awaited.due, timestamp=at,
        )  # fmt: skip

    def record_wait_expired(self, observed_on: date, at: datetime | None = None) -> None:
        if self.awaiting is None or observed_on <= self.awaiting.due:
            raise DomainError(f"claim {self.id} has no wait that expired by {observed_on.isoformat()}")
        self.trigger_event(
            self.DeclarationWaitExpired, month=self.awaiting.month, observed_on=observed_on, timestamp=at
        )

    def return_to_work(self, returned: ReturnToWork, declared_by: str, at: datetime | None = None) -> None:
        if self.decision is None or self.decision.situation != VALABLE:
            raise InvalidReturnToWork("only a valid claim has a benefit to end")
        if self.returned is not None:
            raise InvalidReturnToWork("the return to work is already recorded")
        self.trigger_event(
            self.ReturnedToWork, return_date=returned.return_date, declared_on=returned.declared_on,
            months_due=returned.months_due, benefit_end=returned.benefit_end, late_notice=returned.late_notice,
            declared_by=declared_by, timestamp=at,
        )  # fmt: skip

    def record_document(
        self,
        kind: str,
        status: str,
        *,
        agent: str,
        agency: str,
        at: datetime,
        reason: str | None = None,
        rib: str | None = None,
        sha256: str | None = None,
    ) -> None:
        """Record a piece of the dossier as received, verified or refused (dossier.document_record checks it;
        a RIB by its key). A claim whose rejection is final takes no more pieces."""
        check_agent(agent, agency)
        if (
            self.decision is not None
            and self.decision.situation == REJETE
            and not self.may_plead_force_majeure
        ):
            raise InvalidDocument(dossier.CLAIM_CLOSED, f"claim {self.id} is rejected: its dossier is closed")
        if sha256 is not None and not is_scan_digest(sha256):
            raise InvalidDocument(
                dossier.SCAN_DIGEST_INVALID, "a scan is named by the lowercase hex of its SHA-256"
            )
        record = dossier.document_record(self.dossier_rules, kind, status, local_date(at), reason, rib)
        self.trigger_event(
            self.DocumentRecorded, kind=record.kind, status=record.status, reason=record.reason, sha256=sha256,
            rib=str(record.rib) if record.rib is not None else None, agent=agent, agency=agency, timestamp=at,
        )  # fmt: skip

    def rule_on_motif(self, involuntary: bool, reason: str, *, agent: str, agency: str, at: datetime) -> None:
        """An agent's ruling on a motif the rules cannot judge, before the claim is decided."""
        check_agent(agent, agency)
        if self.decision is not None:
            raise InvalidReview(review.ALREADY_DECIDED, f"claim {self.id} is already decided")
        if not get_motif(self.motif_code).needs_review:
            raise InvalidReview(
                review.MOTIF_NOT_REVIEWABLE, f"the motif {self.motif_code!r} is judged by the rules"
            )
        if self.review is not None:
            raise InvalidReview(review.ALREADY_RULED, f"claim {self.id} was already reviewed")
        ruling = MotifRuling(involuntary, reason)
        self.trigger_event(
            self.ReviewRuled, involuntary=ruling.involuntary, reason=ruling.reason, agent=agent, agency=agency,
            timestamp=at,
        )  # fmt: skip

    def grant_force_majeure(
        self, reason: str, decision: Decision, *, agent: str, agency: str, decided_by: str, at: datetime
    ) -> None:
        """Excuse a late filing and record the decision the rules reach without the deadline
        (``decide_reviewed(…, force_majeure=…)``): two events, saved together."""
        check_agent(agent, agency)
        if not self.may_plead_force_majeure:
            raise InvalidReview(
                review.NOT_REJECTED_LATE, "only a claim rejected for late filing may plead force majeure"
            )
        plea = review.ForceMajeure(reason)
        if not review.reached_with(decision, self.motif_ruling, plea):
            raise InvalidReview(review.DECISION_IGNORES_RULING, "the new decision ignores an agent's ruling")
        self.trigger_event(
            self.ForceMajeureGranted, reason=plea.reason, agent=agent, agency=agency, timestamp=at
        )
        self.trigger_event(self.Decided, decision=decision.to_dict(), decided_by=decided_by, timestamp=at)

    def expire_dossier(self, facts: DossierFacts, *, decided_by: str, at: datetime) -> None:
        """End a Valable claim whose dossier was incomplete on its deadline, observed on ``at``'s date:
        the expiry, then the Rejeté decision (dossier_rejection.py), saved together."""
        if self.decision is None:
            raise DossierNotExpired(CLAIM_NOT_VALABLE, f"claim {self.id} is not decided")
        observed_on, deadline = local_date(at), self.dossier_deadline
        at_deadline = dossier.dossier_on(facts, self.dossier_rules, self.document_records, deadline)
        decision = reject_incomplete_dossier(self.decision, at_deadline, deadline, observed_on)
        self.trigger_event(self.DossierExpired, deadline=deadline, observed_on=observed_on, timestamp=at)
        self.trigger_event(self.Decided, decision=decision.to_dict(), decided_by=decided_by, timestamp=at)

    def remind_dossier(self, facts: DossierFacts, *, at: datetime) -> None:
        """Record, once, that the worker still owes pieces within the window before the deadline, observed
        on ``at``'s date (dossier_reminder.py; raises ReminderNotDue)."""
        reminder = dossier_reminder(
            self.decision, self.dossier_reminded_on, self.dossier_rules, self.dossier_for(facts),
            self.dossier_deadline, local_date(at),
        )  # fmt: skip
        self.trigger_event(
            self.DossierReminderDue, deadline=reminder.deadline, observed_on=reminder.observed_on,
            owed=list(reminder.owed), timestamp=at,
        )  # fmt: skip

    def schedule_payments(self, *, at: datetime) -> None:
        """Schedule a Valable claim's monthly payments (payments.schedule): those a return to work already
        cut are not scheduled."""
        if self.decision is None or self.decision.situation != VALABLE:
            raise InvalidPayment(payments.CLAIM_NOT_VALABLE, f"claim {self.id} is not Valable")
        if self.payments:
            raise InvalidPayment(payments.ALREADY_SCHEDULED, f"claim {self.id}'s payments are scheduled")
        plan = payments.schedule(self.decision, self.filed_on, self.returned)
        kept = [payment for payment in plan if payment.status != payments.CANCELLED]
        if not kept:
            raise InvalidPayment(payments.NOTHING_TO_SCHEDULE, f"claim {self.id} has no month to pay")
        self.trigger_event(
            self.PaymentsScheduled, months=[p.month for p in kept], amount_centimes=kept[0].amount_centimes,
            timestamp=at,
        )  # fmt: skip

    def issue_payment(self, month: str, *, file_id: str, at: datetime) -> None:
        """Record the month's payment as issued in the bank file ``file_id``, once: to a verified RIB, of a
        claim still Valable. Whether the month is due (the dossier's completion) is the payment run's call."""
        line = self.payments.get(payments.parse_month(month))
        if line is None:
            raise InvalidPayment(payments.NOT_SCHEDULED, f"no payment of claim {self.id} in {month}")
        if line.status == payments.ISSUED:
            raise InvalidPayment(payments.ALREADY_ISSUED, f"the payment of {month} is already issued")
        if line.status == payments.CANCELLED or self.situation != VALABLE:
            raise InvalidPayment(payments.PAYMENT_CANCELLED, f"the payment of {month} is cancelled")
        if self.rib is None:
            raise InvalidPayment(payments.RIB_NOT_VERIFIED, f"claim {self.id} has no verified RIB")
        if not file_id.strip():
            raise InvalidPayment(payments.FILE_ID_REQUIRED, "an issued payment names its bank file")
        self.trigger_event(
            self.PaymentIssued,
            month=month,
            amount_centimes=line.amount_centimes,
            file_id=file_id,
            timestamp=at,
        )

    def cancel_payments(self, *, at: datetime) -> None:
        """Cancel the scheduled months no longer due: past a return to work's ``months_due``, or all of them
        once the claim is no longer Valable. Issued months stay issued."""
        issued = [month for month, line in self.payments.items() if line.status == payments.ISSUED]
        still_due = {
            p.month
            for p in payments.schedule(self.decision, self.filed_on, self.returned, issued=issued)
            if p.status != payments.CANCELLED
        } if self.decision is not None else set()  # fmt: skip
        months = [
            m for m, line in self.payments.items() if line.status == payments.SCHEDULED and m not in still_due
        ]
        if not months:
            raise InvalidPayment(payments.NOTHING_TO_CANCEL, f"claim {self.id} has no payment to cancel")
        self.trigger_event(self.PaymentsCancelled, months=months, timestamp=at)

    @property
    def situation(self) -> str:
        return self.decision.situation if self.decision else EN_COURS

    @property
    def filed_on(self) -> date:
        """The Casablanca date of filing, as the rules read it."""
        return local_date(self.filed_at)

    @property
    def decided_at(self) -> datetime | None:
        """When the claim's current decision was made (not its last event's time)."""
        return self.decisions[-1].decided_at if self.decisions else None

    @property
    def first_decided_at(self) -> datetime | None:
        return self.decisions[0].decided_at if self.decisions else None

    @property
    def awaiting_review(self) -> bool:
        """Undecided under a motif that needs an agent's judgement, and not yet ruled on."""
        return self.decision is None and get_motif(self.motif_code).needs_review and self.review is None

    @property
    def motif_ruling(self) -> MotifRuling | None:
        """The agent's ruling on the motif, as ``decide_reviewed`` takes it."""
        if self.review is None or self.review.involuntary is None:
            return None
        return MotifRuling(self.review.involuntary, self.review.reason)

    @property
    def may_plead_force_majeure(self) -> bool:
        return self.decision is not None and review.may_plead_force_majeure(self.decision)

    @property
    def dossier_rules(self) -> dossier.DossierRules:
        return dossier.dossier_rules_for(self.job_loss_date)

    @property
    def valable_on(self) -> date | None:
        """The Casablanca date of the claim's first Valable decision (by the rules, after a review or after
        force majeure), None before one; the dossier's deadline leaves time after it."""
        first = next((d for d in self.decisions if d.decision.situation == VALABLE), None)
        return local_date(first.decided_at) if first is not None else None

    @property
    def dossier_deadline(self) -> date:
        return dossier.dossier_deadline(
            self.dossier_rules, self.job_loss_date, self.filed_on, self.valable_on
        )

    @property
    def document_records(self) -> tuple[DocumentRecord, ...]:
        return tuple(document.record for document in self.documents)

    def dossier_for(self, facts: DossierFacts) -> dossier.Dossier:
        """Where each piece this claim needs stands (the facts say which: nationality, conciliation)."""
        return dossier.dossier_state(facts, self.dossier_rules, self.document_records)

    @property
    def rib(self) -> Rib | None:
        """The account to pay: the RIB piece's, while its latest record is verified."""
        latest = next((d.record for d in reversed(self.documents) if d.record.kind == dossier.RIB), None)
        return latest.rib if latest is not None and latest.status == dossier.VERIFIED else None

    def is_open_on(self, day: date) -> bool:
        """Open from submission until rejected, or until its benefit period has ended."""
        if self.decision is not None and self.decision.situation == REJETE:
            return False
        if self.returned is not None:
            return day <= self.returned.benefit_end
        months = self.decision.duration_months if self.decision else None
        return day <= benefit_end(
            self.job_loss_date, months or ruleset_for(self.job_loss_date).duration_months
        )


# Every event a claim's stream may hold: what the relay publishes and a replay reads (CLAIM_TOPICS).
CLAIM_EVENTS: tuple[type, ...] = (
    Claim.Submitted, Claim.Decided, Claim.AwaitingDeclaration, Claim.DeclarationWaitExpired, Claim.ReturnedToWork,
    Claim.DocumentRecorded, Claim.ReviewRuled, Claim.ForceMajeureGranted, Claim.DossierExpired,
    Claim.DossierReminderDue, Claim.PaymentsScheduled, Claim.PaymentIssued, Claim.PaymentsCancelled,
)  # fmt: skip


class InsuredRecord(Aggregate):
    """One per insured: opening a claim appends here too, in the same transaction, so two concurrent
    submissions for the same insured conflict on this stream and exactly one wins. A claim force majeure
    opens again is reopened here likewise: its insured's last claim, the one a filing checks."""

    class Opened(Aggregate.Created):
        immatriculation: str

    class ClaimOpened(Aggregate.Event):
        claim_id: uuid.UUID

        def apply(self, aggregate: Aggregate) -> None:
            assert isinstance(aggregate, InsuredRecord)
            aggregate.claim_ids.append(self.claim_id)

    class ClaimReopened(Aggregate.Event):
        """An earlier claim is open again (force majeure): it moves to the end, as the last claim."""

        claim_id: uuid.UUID

        def apply(self, aggregate: Aggregate) -> None:
            assert isinstance(aggregate, InsuredRecord)
            if self.claim_id in aggregate.claim_ids:
                aggregate.claim_ids.remove(self.claim_id)
            aggregate.claim_ids.append(self.claim_id)

    def __init__(self, immatriculation: str) -> None:
        self.immatriculation = immatriculation
        self.claim_ids: list[uuid.UUID] = []

    @staticmethod
    def id_for(immatriculation: str) -> uuid.UUID:
        return uuid.uuid5(NAMESPACE, f"insured:{immatriculation}")

    @classmethod
    def open(cls, immatriculation: str) -> InsuredRecord:
        return cls._create(cls.Opened, id=cls.id_for(immatriculation), immatriculation=immatriculation)

    @property
    def last_claim_id(self) -> uuid.UUID | None:
        return self.claim_ids[-1] if self.claim_ids else None

    def open_claim(self, claim_id: uuid.UUID) -> None:
        self.trigger_event(self.ClaimOpened, claim_id=claim_id)

    def reopen_claim(self, claim_id: uuid.UUID, at: datetime) -> None:
        self.trigger_event(self.ClaimReopened, claim_id=claim_id, timestamp=at)
