"""The claim (demande IPE) aggregate and the insured's record that keeps one claim open at a time.

Events are the library's explicit event classes; the aggregate checks an invariant, then records an event.
"""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Any

from eventsourcing.domain import Aggregate

from ipe_claims.domain.errors import DomainError
from ipe_claims.domain.rules import REJETE, Decision, benefit_end, ruleset_for

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

    @classmethod
    def submit(cls, claim_id: uuid.UUID, **submitted: Any) -> Claim:
        return cls._create(cls.Submitted, id=claim_id, **submitted)

    def decide(self, decision: Decision, decided_by: str) -> None:
        if self.decision is not None:
            raise ClaimAlreadyDecided(f"claim {self.id} is already decided")
        self.trigger_event(self.Decided, decision=decision.to_dict(), decided_by=decided_by)

    @property
    def situation(self) -> str:
        return self.decision.situation if self.decision else EN_COURS

    def is_open_on(self, day: date) -> bool:
        """Open from submission until rejected, or until its benefit period has ended."""
        if self.decision is not None and self.decision.situation == REJETE:
            return False
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
