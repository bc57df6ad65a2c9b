"""An agent's rulings on what the rules cannot judge alone, and the decision the rules then reach.

Two facts come from a person, never from the employer's declaration:
- whether a loss under a motif that says too little ("Autre", "Accident de travail") was involuntary;
- that a late filing was due to force majeure, which the fund accepts [S1][S8] (ipe_rules.md §1).
The rules then decide as usual, with the ruling in place of the catalogue or of the 60-day deadline; the
ruling and its reason appear in the rule's outcome, so the decision explains itself. Who ruled and when is
recorded by the claim's event, not here.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from ipe_claims.domain.contributions import MonthlyDeclaration
from ipe_claims.domain.errors import CodedError
from ipe_claims.domain.motifs import get_motif
from ipe_claims.domain.rules import (
    FILED_LATE,
    MOTIF_NOT_INVOLUNTARY,
    PASSED,
    ClaimFacts,
    Decision,
    RuleOutcome,
    RuleSet,
    decide,
    ruleset_for,
)

MAX_REASON_LENGTH = 500

# InvalidReview codes
REASON_REQUIRED = "reason_required"
REASON_TOO_LONG = "reason_too_long"
MOTIF_NOT_REVIEWABLE = "motif_not_reviewable"
NOT_FILED_LATE = "not_filed_late"
ALREADY_DECIDED = "claim_already_decided"
ALREADY_RULED = "review_already_ruled"
NOT_REJECTED_LATE = "not_rejected_late"
DECISION_IGNORES_RULING = "decision_ignores_ruling"
LATER_CLAIM_OPEN = "later_claim_open"  # force majeure would leave the insured with two open claims


class InvalidReview(CodedError):
    """A ruling the rules cannot take: no reason, a motif that needs none, a filing that was not late."""


def _checked_reason(reason: str) -> str:
    text = reason.strip()
    if not text:
        raise InvalidReview(REASON_REQUIRED, "a ruling states its reason")
    if len(text) > MAX_REASON_LENGTH:
        raise InvalidReview(REASON_TOO_LONG, f"the reason is limited to {MAX_REASON_LENGTH} characters")
    return text


@dataclass(frozen=True)
class MotifRuling:
    """The agent's answer to "was this loss involuntary?" for a motif the rules cannot judge."""

    involuntary: bool
    reason: str

    def __post_init__(self) -> None:
        object.__setattr__(self, "reason", _checked_reason(self.reason))


@dataclass(frozen=True)
class ForceMajeure:
    """The agent accepts that the claim could not be filed within the deadline."""

    reason: str

    def __post_init__(self) -> None:
        object.__setattr__(self, "reason", _checked_reason(self.reason))


def awaits_review(motif_code: str, ruling: MotifRuling | None) -> bool:
    """A claim under a motif that needs judgement waits for an agent before the rules decide it."""
    return get_motif(motif_code).needs_review and ruling is None


def may_plead_force_majeure(decision: Decision) -> bool:
    """Only a claim rejected for late filing can be decided again without the deadline."""
    return decision.rejection_code == FILED_LATE


def reached_with(
    decision: Decision, motif_ruling: MotifRuling | None = None, force_majeure: ForceMajeure | None = None
) -> bool:
    """Whether ``decision`` was reached with these rulings (``decide_reviewed``): the outcomes they change
    carry their reasons. A claim keeps a decision that ignores a ruling on it from being recorded."""
    figures = {outcome.rule: outcome.figures for outcome in decision.outcomes}
    motif = figures.get("involuntary_loss", {})
    motif_ok = motif_ruling is None or (
        motif.get("review") == ("involuntary" if motif_ruling.involuntary else "voluntary")
        and motif.get("review_reason") == motif_ruling.reason
    )
    plea_ok = force_majeure is None or (
        figures.get("filed_in_time", {}).get("force_majeure_reason") == force_majeure.reason
    )
    return motif_ok and plea_ok


def _motif_outcome(facts: ClaimFacts, ruling: MotifRuling) -> RuleOutcome:
    motif = get_motif(facts.motif_code)
    figures = {"motif": motif.code, "review": "involuntary" if ruling.involuntary else "voluntary"}
    figures["review_reason"] = ruling.reason
    if ruling.involuntary:
        return RuleOutcome(
            "involuntary_loss",
            True,
            PASSED,
            f"Perte d'emploi jugée involontaire par un agent ({motif.label_fr}) : {ruling.reason}",
            f"فقدان الشغل اعتبره عون الصندوق خارجا عن إرادة الأجير ({motif.label_ar}): {ruling.reason}",
            figures,
        )
    return RuleOutcome(
        "involuntary_loss",
        False,
        MOTIF_NOT_INVOLUNTARY,
        f"Perte d'emploi jugée volontaire par un agent ({motif.label_fr}) : {ruling.reason}",
        f"فقدان الشغل اعتبره عون الصندوق إراديا ({motif.label_ar}): {ruling.reason}",
        figures,
    )


def _force_majeure_outcome(facts: ClaimFacts, delay: int, limit: int, plea: ForceMajeure) -> RuleOutcome:
    return RuleOutcome(
        "filed_in_time",
        True,
        PASSED,
        f"Demande déposée {delay} jours après la perte d'emploi, au-delà du délai de {limit} jours,"
        f" admise pour force majeure : {plea.reason}",
        f"تم إيداع الطلب بعد {delay} يوما من فقدان الشغل، خارج أجل {limit} يوما، وقُبل لقوة قاهرة: {plea.reason}",
        {
            "filed_on": facts.filed_on.isoformat(),
            "delay_days": str(delay),
            "deadline_days": str(limit),
            "force_majeure_reason": plea.reason,
        },
    )


def decide_reviewed(
    facts: ClaimFacts,
    history: Sequence[MonthlyDeclaration],
    *,
    motif_ruling: MotifRuling | None = None,
    force_majeure: ForceMajeure | None = None,
    ruleset: RuleSet | None = None,
) -> Decision:
    """Decide by the rules in force at the loss (or ``ruleset``: a simulation's), with the agent's rulings
    in place of what they replace.

    The ruleset keeps its version: only the motif's classification or this claim's deadline is taken
    from the ruling, and the outcome it changes says so.
    """
    ruleset = ruleset or ruleset_for(facts.job_loss_date)
    changes: dict[str, Any] = {}
    replaced: dict[str, RuleOutcome] = {}
    if motif_ruling is not None:
        if not get_motif(facts.motif_code).needs_review:
            raise InvalidReview(
                MOTIF_NOT_REVIEWABLE,
                f"the motif {facts.motif_code!r} is judged by the rules, not by an agent",
            )
        involuntary = ruleset.involuntary_motifs - {facts.motif_code}
        if motif_ruling.involuntary:
            involuntary = involuntary | {facts.motif_code}
        changes["involuntary_motifs"] = involuntary
        replaced["involuntary_loss"] = _motif_outcome(facts, motif_ruling)
    if force_majeure is not None:
        delay = (facts.filed_on - facts.job_loss_date).days
        if delay <= ruleset.filing_deadline_days:
            raise InvalidReview(NOT_FILED_LATE, "force majeure excuses only a filing after the deadline")
        changes["filing_deadline_days"] = delay
        replaced["filed_in_time"] = _force_majeure_outcome(
            facts, delay, ruleset.filing_deadline_days, force_majeure
        )
    decision = decide(facts, history, dataclasses.replace(ruleset, **changes))
    outcomes = tuple(replaced.get(outcome.rule, outcome) for outcome in decision.outcomes)
    rejecting = next((o for o in outcomes if not o.passed and o.code == decision.rejection_code), None)
    return dataclasses.replace(
        decision,
        outcomes=outcomes,
        rejection_reason_fr=rejecting.reason_fr if rejecting else None,
        rejection_reason_ar=rejecting.reason_ar if rejecting else None,
    )
