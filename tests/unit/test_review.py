"""An agent's rulings: a motif that needs judgement, force majeure for a late filing; the rules then decide."""

from collections.abc import Sequence
from datetime import date, timedelta
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ipe_claims.domain.contributions import MonthlyDeclaration, months_before
from ipe_claims.domain.errors import DomainError
from ipe_claims.domain.motifs import MOTIFS
from ipe_claims.domain.review import (
    MAX_REASON_LENGTH,
    ForceMajeure,
    InvalidReview,
    MotifRuling,
    awaits_review,
    decide_reviewed,
    may_plead_force_majeure,
)
from ipe_claims.domain.rules import (
    FILED_BEFORE_LOSS,
    FILED_LATE,
    INSUFFICIENT_DAYS_36,
    MOTIF_NOT_INVOLUNTARY,
    REJETE,
    VALABLE,
    ClaimFacts,
    Decision,
    decide,
)

LOSS = date(2023, 3, 15)
INVOLUNTARY = MotifRuling(True, "Fermeture du chantier constatée par l'inspecteur du travail")
VOLUNTARY = MotifRuling(False, "Le PV établit une démission")
PLEA = ForceMajeure("Hospitalisation du 20/03 au 30/05, certificat médical au dossier")


def career(days: int = 26, salary: str = "3000") -> list[MonthlyDeclaration]:
    return [MonthlyDeclaration("1234567", m, days, Decimal(salary)) for m in months_before(LOSS, 36)]


def facts(motif: str = "autre", delay: int = 10) -> ClaimFacts:
    return ClaimFacts(LOSS, LOSS + timedelta(days=delay), motif)


def outcome(decision: Decision, rule: str) -> dict[str, object]:
    return next(o.to_dict() for o in decision.outcomes if o.rule == rule)


def test_autre_and_accident_de_travail_wait_for_a_ruling_and_other_motifs_do_not() -> None:
    assert awaits_review("autre", None) and awaits_review("accident_travail", None)
    assert not awaits_review("autre", INVOLUNTARY)
    assert not awaits_review("licenciement", None) and not awaits_review("demission", None)


def test_an_involuntary_ruling_lets_the_rules_decide_as_for_an_involuntary_motif() -> None:
    reviewed = decide_reviewed(facts("autre"), career(), motif_ruling=INVOLUNTARY)
    ordinary = decide(facts("licenciement"), career())
    assert reviewed.situation == VALABLE
    assert (reviewed.monthly_amount, reviewed.duration_months) == (ordinary.monthly_amount, 6)
    assert reviewed.ruleset_version == ordinary.ruleset_version == "ipe-2014.1"
    involuntary = outcome(reviewed, "involuntary_loss")
    assert involuntary["passed"] is True
    assert "jugée involontaire par un agent (Autre)" in str(involuntary["reason_fr"])
    assert involuntary["figures"] == {
        "motif": "autre",
        "review": "involuntary",
        "review_reason": INVOLUNTARY.reason,
    }


def test_a_voluntary_ruling_rejects_with_the_agents_reason() -> None:
    reviewed = decide_reviewed(facts("accident_travail"), career(), motif_ruling=VOLUNTARY)
    assert (reviewed.situation, reviewed.rejection_code) == (REJETE, MOTIF_NOT_INVOLUNTARY)
    assert reviewed.rejection_reason_fr == (
        "Perte d'emploi jugée volontaire par un agent (Accident de travail) : Le PV établit une démission"
    )
    assert reviewed.rejection_reason_ar and VOLUNTARY.reason in reviewed.rejection_reason_ar


def test_an_involuntary_ruling_does_not_excuse_a_short_career() -> None:
    reviewed = decide_reviewed(facts("autre"), career(days=20), motif_ruling=INVOLUNTARY)
    assert (reviewed.situation, reviewed.rejection_code) == (REJETE, INSUFFICIENT_DAYS_36)
    assert reviewed.rejection_reason_fr == decide(facts("licenciement"), career(days=20)).rejection_reason_fr


@pytest.mark.parametrize("motif", ["demission", "licenciement", "faute_grave"])
def test_an_agent_cannot_overrule_the_catalogue(motif: str) -> None:
    with pytest.raises(InvalidReview):
        decide_reviewed(facts(motif), career(), motif_ruling=INVOLUNTARY)


@pytest.mark.parametrize("reason", ["", "   ", "x" * (MAX_REASON_LENGTH + 1)])
def test_a_ruling_states_a_reason_of_reasonable_length(reason: str) -> None:
    with pytest.raises(InvalidReview):
        MotifRuling(True, reason)
    with pytest.raises(InvalidReview):
        ForceMajeure(reason)
    assert issubclass(InvalidReview, DomainError)


def test_force_majeure_decides_a_late_filing_again_without_the_deadline() -> None:
    late = facts("licenciement", delay=75)
    first = decide(late, career())
    assert first.rejection_code == FILED_LATE and may_plead_force_majeure(first)
    again = decide_reviewed(late, career(), force_majeure=PLEA)
    assert again.situation == VALABLE
    assert again.monthly_amount == decide(facts("licenciement"), career()).monthly_amount
    filed = outcome(again, "filed_in_time")
    assert filed["passed"] is True and "admise pour force majeure" in str(filed["reason_fr"])
    assert filed["figures"] == {
        "filed_on": (LOSS + timedelta(days=75)).isoformat(),
        "delay_days": "75",
        "deadline_days": "60",  # the deadline in force, not the one the plea lifted
        "force_majeure_reason": PLEA.reason,
    }


def test_force_majeure_leaves_the_other_rules_to_decide() -> None:
    again = decide_reviewed(facts("licenciement", delay=75), career(days=20), force_majeure=PLEA)
    assert (again.situation, again.rejection_code) == (REJETE, INSUFFICIENT_DAYS_36)


@pytest.mark.parametrize("delay", [0, 60, -1])
def test_force_majeure_excuses_only_a_filing_after_the_deadline(delay: int) -> None:
    with pytest.raises(InvalidReview):
        decide_reviewed(facts("licenciement", delay=delay), career(), force_majeure=PLEA)


def test_only_a_rejection_for_late_filing_may_be_pleaded() -> None:
    assert not may_plead_force_majeure(decide(facts("licenciement"), career()))
    assert not may_plead_force_majeure(decide(facts("demission", delay=75), career()))  # the motif first
    assert decide(facts("licenciement", delay=-1), career()).rejection_code == FILED_BEFORE_LOSS


def test_both_rulings_together_for_a_late_claim_under_autre() -> None:
    late = facts("autre", delay=90)
    assert decide_reviewed(late, career(), motif_ruling=INVOLUNTARY).rejection_code == FILED_LATE
    both = decide_reviewed(late, career(), motif_ruling=INVOLUNTARY, force_majeure=PLEA)
    assert both.situation == VALABLE
    assert [o.passed for o in both.outcomes] == [True] * 5


def test_a_reviewed_decision_survives_its_serialised_form() -> None:
    reviewed = decide_reviewed(
        facts("autre", delay=90), career(), motif_ruling=INVOLUNTARY, force_majeure=PLEA
    )
    assert Decision.from_dict(reviewed.to_dict()) == reviewed


@settings(max_examples=150)
@given(
    st.sampled_from(sorted(MOTIFS)),
    st.integers(-2, 120),
    st.integers(0, 26),
    st.sampled_from(["1647", "9000"]),
)
def test_without_a_ruling_the_decision_is_the_rules_own(
    motif: str, delay: int, days: int, salary: str
) -> None:
    claim = facts(motif, delay)
    assert decide_reviewed(claim, career(days, salary)) == decide(claim, career(days, salary))


@settings(max_examples=150)
@given(st.integers(61, 400), st.integers(0, 26), st.sampled_from(["licenciement", "fin_cdd", "demission"]))
def test_force_majeure_changes_only_the_filing_outcome(delay: int, days: int, motif: str) -> None:
    claim = facts(motif, delay)
    history: Sequence[MonthlyDeclaration] = career(days)
    before, after = decide(claim, history), decide_reviewed(claim, history, force_majeure=PLEA)
    unchanged = [(b.rule, b.passed, b.code) for b in before.outcomes if b.rule != "filed_in_time"]
    assert unchanged == [(a.rule, a.passed, a.code) for a in after.outcomes if a.rule != "filed_in_time"]
    assert after.rejection_code != FILED_LATE
