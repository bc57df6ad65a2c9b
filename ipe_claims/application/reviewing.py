"""An agent's review: a ruling on a motif the rules cannot judge, or force majeure for a late filing.

The ruling and the decision it leads to are saved together, so no reader ever sees a ruling without its
consequence: a ruling on the motif is followed by the rules' decision (``deciding.settle``, which may
still wait for a declaration), a plea of force majeure by the new decision the rules reach without the
deadline (``review.decide_reviewed``), the claim's first decision staying in its stream. Every action
names the agent, their agency, its time (the injected clock) and its reason.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from eventsourcing.application import AggregateNotFoundError
from eventsourcing.persistence import IntegrityError

from ipe_claims.application.clock import Clock
from ipe_claims.application.deciding import settle
from ipe_claims.application.ports import ClaimsToDecide, ContributionHistories
from ipe_claims.domain import review
from ipe_claims.domain.claim import Claim
from ipe_claims.domain.review import ForceMajeure, InvalidReview, decide_reviewed
from ipe_claims.domain.rules import ClaimFacts

ATTEMPTS = 3  # another writer (the projector, another agent) appended first: load again and re-check


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

        def step(claim: Claim, at: datetime) -> None:
            claim.rule_on_motif(involuntary, reason, agent=agent.username, agency=agent.agency, at=at)
            (history,) = self.declarations.histories([(claim.immatriculation, claim.job_loss_date)])
            settle(claim, history, at, self.decided_by)

        return self._advance(claim_id, step)

    def grant_force_majeure(self, claim_id: uuid.UUID, reason: str, agent: ActingAgent) -> Claim:
        """Excuse a late filing and decide the claim again without the deadline, as a new decision.
        Raises InvalidReview (no reason, a claim not rejected for late filing) and AggregateNotFoundError."""
        plea = ForceMajeure(reason)

        def step(claim: Claim, at: datetime) -> None:
            if not claim.may_plead_force_majeure:
                raise InvalidReview(
                    review.NOT_REJECTED_LATE, "only a claim rejected for late filing may plead force majeure"
                )
            (history,) = self.declarations.histories([(claim.immatriculation, claim.job_loss_date)])
            facts = ClaimFacts(claim.job_loss_date, claim.filed_on, claim.motif_code)
            decision = decide_reviewed(facts, history, motif_ruling=claim.motif_ruling, force_majeure=plea)
            claim.grant_force_majeure(plea.reason, decision, agent=agent.username, agency=agent.agency,
                                      decided_by=self.decided_by, at=at)  # fmt: skip

        return self._advance(claim_id, step)

    def _advance(self, claim_id: uuid.UUID, step: Callable[[Claim, datetime], None]) -> Claim:
        """Load, let ``step`` record, save once; on a lost race load again, so the domain's checks answer
        against what the winner recorded (a claim decided meanwhile is no longer in review). The last
        attempt's IntegrityError reaches the caller."""
        for _ in range(ATTEMPTS - 1):
            claim = self._stepped(claim_id, step)
            try:
                self.store.save(claim)
            except IntegrityError:
                continue
            return claim
        claim = self._stepped(claim_id, step)
        self.store.save(claim)
        return claim

    def _stepped(self, claim_id: uuid.UUID, step: Callable[[Claim, datetime], None]) -> Claim:
        claim = self.store.get_many([claim_id]).get(claim_id)
        if not isinstance(claim, Claim):
            raise AggregateNotFoundError(claim_id)
        step(claim, self.clock.now())
        return claim
