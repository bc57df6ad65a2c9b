"""Decide claims: the use case behind the eligibility projector and its sweep.

A submitted claim is settled once: it waits when the claiming affiliation's declaration for the month
before the loss is still coming, otherwise it is decided from the insured's contribution history by the
rules in force at the job-loss date. A claim under a motif that needs judgement ("Autre", "Accident de
travail") is not decided until an agent has ruled on it (``reviewing.py``), then with that ruling. A waiting claim is decided when its declaration has arrived or, on a
day the sweep observes, once its wait expired. A claim already decided is left as it is, so a redelivered
submission changes nothing.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime

from eventsourcing.application import AggregateNotFoundError

from ipe_claims.application.clock import Clock
from ipe_claims.application.ports import ClaimsToDecide, ContributionHistories
from ipe_claims.domain.claim import Claim
from ipe_claims.domain.contributions import MonthlyDeclaration
from ipe_claims.domain.dates import CASABLANCA
from ipe_claims.domain.lifecycle import awaited_declaration
from ipe_claims.domain.review import decide_reviewed
from ipe_claims.domain.rules import ClaimFacts, ruleset_for


@dataclass(frozen=True)
class Decider:
    """Settles claims through its ports; ``decided_by`` names the decider in the claims' logs."""

    store: ClaimsToDecide
    declarations: ContributionHistories
    clock: Clock
    decided_by: str

    def settle(self, claim_ids: Iterable[uuid.UUID], today: date | None = None) -> list[Claim]:
        """Settle these claims and save what changed with one ``save``; return the claims it changed.

        The claims are loaded with one query and their histories read with one more. ``today``: the
        sweep's observation of the clock; without it (a submission being handled) a wait never expires.
        A claim the store does not hold raises AggregateNotFoundError; a claim another writer changed
        meanwhile raises the store's IntegrityError, and nothing is saved (a retry finds it settled).
        """
        wanted = list(dict.fromkeys(claim_ids))
        found = self.store.get_many(wanted)
        claims: list[Claim] = []
        for claim_id in wanted:
            claim = found.get(claim_id)
            if not isinstance(claim, Claim):
                raise AggregateNotFoundError(claim_id)
            if claim.decision is None and not claim.awaiting_review:
                claims.append(claim)
        histories = self.declarations.histories([(c.immatriculation, c.job_loss_date) for c in claims])
        changed = []
        for claim, history in zip(claims, histories, strict=True):
            version = claim.version
            settle(claim, history, self.clock.now(), self.decided_by, today)
            if claim.version != version:
                changed.append(claim)
        if changed:
            self.store.save(*changed)
        return changed


def settle(
    claim: Claim, history: list[MonthlyDeclaration], now: datetime, decided_by: str, today: date | None = None
) -> None:
    """Decide the claim from the insured's ``history``, or wait for a declaration still coming; what it
    records is timed ``now``. ``today`` is the sweep's observation of the clock; without it a wait never
    expires. The decision itself reads only the log's instants (``filed_at``), never the clock. A claim
    that awaits an agent's ruling on its motif is left as it is; one ruled on is decided with the ruling."""
    if claim.decision is not None or claim.awaiting_review:
        return

    def declared_by(affiliation_number: str) -> set[date]:
        return {line.period for line in history if line.affiliation_number == affiliation_number}

    awaiting = claim.awaiting
    filed_on = claim.filed_at.astimezone(CASABLANCA).date()
    if awaiting is None:
        awaited = awaited_declaration(claim.affiliation_number, claim.job_loss_date, filed_on,
                                      declared_by(claim.affiliation_number), ruleset_for(claim.job_loss_date))  # fmt: skip
        if awaited is not None:
            claim.await_declaration(awaited, now)
            return
    elif awaiting.month not in declared_by(awaiting.affiliation_number):
        if today is None or today <= awaiting.due:
            return
        claim.record_wait_expired(today, now)
    facts = ClaimFacts(job_loss_date=claim.job_loss_date, filed_on=filed_on, motif_code=claim.motif_code)
    decision = decide_reviewed(facts, history, motif_ruling=claim.motif_ruling)
    claim.decide(decision, decided_by=decided_by, at=now)
