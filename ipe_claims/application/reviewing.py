"""An agent's review: a ruling on a motif the rules cannot judge, or force majeure for a late filing.

The ruling and the decision it leads to are saved together, so no reader ever sees a ruling without its
consequence: a ruling on the motif is followed by the rules' decision (``deciding.settle``, which may
still wait for a declaration), a plea of force majeure by the new decision the rules reach without the
deadline (``review.decide_reviewed``), the claim's first decision staying in its stream. Every action
names the agent, their agency, its time (the injected clock) and its reason.

Force majeure never leaves an insured with two open claims. It is refused while another claim of the
insured is open on the day of the ruling (``later_claim_open``: an earlier one would have stopped this
claim's filing, so the open one is later). A claim it leaves open becomes its insured's last claim on the
``InsuredRecord``, saved with the claim's events: a filing for the same insured at the same time conflicts
on the record's stream, as two filings do (``filing.py``), and the later filing is refused
``open_claim_exists`` while the reopened claim is open.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date, datetime

from eventsourcing.application import AggregateNotFoundError
from eventsourcing.persistence import IntegrityError

from ipe_claims.application.clock import Clock
from ipe_claims.application.deciding import settle
from ipe_claims.application.ports import ClaimsToDecide, ContributionHistories
from ipe_claims.domain import review
from ipe_claims.domain.claim import Claim, InsuredRecord
from ipe_claims.domain.dates import local_date
from ipe_claims.domain.review import ForceMajeure, InvalidReview, decide_reviewed
from ipe_claims.domain.rules import ClaimFacts

ATTEMPTS = 3  # another writer (the projector, another agent, a filing) appended first: load again, re-check

# A step records on the claim and answers the insured's record when it changed too (saved with the claim).
Step = Callable[[Claim, datetime], Sequence[InsuredRecord]]


@dataclass(frozen=True)
class ActingAgent:
    """Who acts, as the accounts say: the agent's username and the agency they act for."""

    username: str
    agency: str


@dataclass(frozen=True)
class Reviewer:
    """Records an agent's rulings through its ports; ``decided_by`` names the decider of what follows."""

    store: ClaimsToDecide
    declarations: ContributionHistories
    clock: Clock
    decided_by: str

    def rule_on_motif(self, claim_id: uuid.UUID, involuntary: bool, reason: str, agent: ActingAgent) -> Claim:
        """Rule whether the loss was involuntary, then let the rules decide (or wait for a declaration).
        Raises InvalidReview (no reason, a claim not in review) and AggregateNotFoundError."""

        def step(claim: Claim, at: datetime) -> Sequence[InsuredRecord]:
            claim.rule_on_motif(involuntary, reason, agent=agent.username, agency=agent.agency, at=at)
            (history,) = self.declarations.histories([(claim.immatriculation, claim.job_loss_date)])
            settle(claim, history, at, self.decided_by)
            return ()

        return self._advance(claim_id, step)

    def grant_force_majeure(self, claim_id: uuid.UUID, reason: str, agent: ActingAgent) -> Claim:
        """Excuse a late filing and decide the claim again without the deadline, as a new decision.
        Raises InvalidReview (no reason, a claim not rejected for late filing, another claim of the insured
        open) and AggregateNotFoundError."""
        plea = ForceMajeure(reason)

        def step(claim: Claim, at: datetime) -> Sequence[InsuredRecord]:
            if not claim.may_plead_force_majeure:
                raise InvalidReview(
                    review.NOT_REJECTED_LATE, "only a claim rejected for late filing may plead force majeure"
                )
            record = self._record_with_no_other_open_claim(claim, local_date(at))
            (history,) = self.declarations.histories([(claim.immatriculation, claim.job_loss_date)])
            facts = ClaimFacts(claim.job_loss_date, claim.filed_on, claim.motif_code)
            decision = decide_reviewed(facts, history, motif_ruling=claim.motif_ruling, force_majeure=plea)
            claim.grant_force_majeure(plea.reason, decision, agent=agent.username, agency=agent.agency,
                                      decided_by=self.decided_by, at=at)  # fmt: skip
            if not claim.is_open_on(local_date(at)):
                return ()
            record.reopen_claim(claim.id, at)
            return (record,)

        return self._advance(claim_id, step)

    def _record_with_no_other_open_claim(self, claim: Claim, day: date) -> InsuredRecord:
        """The insured's record (a new one for a claim stored without it), once none of its other claims
        is open on ``day``; else InvalidReview ``later_claim_open``."""
        record_id = InsuredRecord.id_for(claim.immatriculation)
        record = self.store.get_many([record_id]).get(record_id)
        if not isinstance(record, InsuredRecord):
            record = InsuredRecord.open(claim.immatriculation)
        others = [other for other in record.claim_ids if other != claim.id]
        for other in self.store.get_many(others).values() if others else ():
            if isinstance(other, Claim) and other.is_open_on(day):
                raise InvalidReview(
                    review.LATER_CLAIM_OPEN, f"claim {other.id} of the same insured is open: it stays the one"
                )
        return record

    def _advance(self, claim_id: uuid.UUID, step: Step) -> Claim:
        """Load, let ``step`` record, save once; on a lost race load again, so the domain's checks answer
        against what the winner recorded (a claim decided meanwhile is no longer in review). The last
        attempt's IntegrityError reaches the caller."""
        for _ in range(ATTEMPTS - 1):
            claim, records = self._stepped(claim_id, step)
            try:
                self.store.save(claim, *records)
            except IntegrityError:
                continue
            return claim
        claim, records = self._stepped(claim_id, step)
        self.store.save(claim, *records)
        return claim

    def _stepped(self, claim_id: uuid.UUID, step: Step) -> tuple[Claim, Sequence[InsuredRecord]]:
        claim = self.store.get_many([claim_id]).get(claim_id)
        if not isinstance(claim, Claim):
            raise AggregateNotFoundError(claim_id)
        return claim, step(claim, self.clock.now())
