"""The return to work (reprise d'activité): the insured works again, so a valid claim's benefit ends.

Declared by the claim's employer (HTTP) or recorded by a caseworker (CLI); the same declaration again
changes nothing, so a retry is safe.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import date

from ipe_claims.application.clock import Clock
from ipe_claims.application.ports import ClaimSteps
from ipe_claims.domain.claim import Claim
from ipe_claims.domain.dates import local_date
from ipe_claims.domain.lifecycle import InvalidReturnToWork, return_to_work
from ipe_claims.domain.rules import VALABLE, ruleset_for


@dataclass(frozen=True)
class RecordReturnToWork:
    claims: ClaimSteps
    clock: Clock

    def __call__(
        self, claim_id: uuid.UUID, return_date: date, declared_by: str, declared_on: date | None = None
    ) -> Claim:
        """End the claim's benefit (raises InvalidReturnToWork); declared today unless ``declared_on``
        says otherwise (a caseworker recording a paper declaration), the event timed now."""
        at = self.clock.now()
        declared = declared_on or local_date(at)

        def step(claim: Claim) -> None:
            if claim.returned is not None and claim.returned.return_date == return_date:
                return  # the same declaration again: nothing new
            if claim.decision is None or claim.decision.situation != VALABLE:
                raise InvalidReturnToWork("only a valid claim has a benefit to end")
            returned = return_to_work(claim.job_loss_date, claim.decision.duration_months or 0, return_date,
                                      declared, ruleset_for(claim.job_loss_date))  # fmt: skip
            claim.return_to_work(returned, declared_by, at)

        return self.claims.advance(claim_id, step)
