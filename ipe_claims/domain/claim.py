"""The claim (demande IPE) aggregate and the insured's record that keeps one claim open at a time.

Events are the library's explicit event classes; the aggregate checks an invariant, then records an event.
"""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Any

from eventsourcing.domain import Aggregate

from ipe_claims.domain.errors import DomainError
from ipe_claims.domain.lifecycle import AwaitedDeclaration, InvalidReturnToWork, ReturnToWork
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

    @classmethod
    def submit(cls, claim_id: uuid.UUID, **submitted: Any) -> Claim:
        """The claim as filed; its first event is timed at ``filed_at``, the instant the intake's clock gave."""
        return cls._create(cls.Submitted, id=claim_id, timestamp=submitted["filed_at"], **submitted)

    def decide(self, decision: Decision, decided_by: str, at: datetime | None = None) -> None:
        """Record the decision, timed ``at`` the decider's clock (the library's clock when not given)."""
        if self.decision is not None:
            raise ClaimAlreadyDecided(f"claim {self.id} is already decided")
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

    @property
    def situation(self) -> str:
        return self.decision.situation if self.decision else EN_COURS

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


class InsuredRecord(Aggregate):
    """One per insured: opening a claim appends here too, in the same transaction, so two concurrent
    submissions for the same insured conflict on this stream and exactly one wins."""

    class Opened(Aggregate.Created):
        immatriculation: str

    class ClaimOpened(Aggregate.Event):
        claim_id: uuid.UUID

        def apply(self, aggregate: Aggregate) -> None:
            assert isinstance(aggregate, InsuredRecord)
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
