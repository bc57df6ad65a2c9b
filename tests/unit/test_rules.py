import dataclasses
import json
from collections.abc import Sequence
from datetime import date, timedelta
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ipe_claims.domain.contributions import MonthlyDeclaration, days_by_month, months_before, salary_by_month
from ipe_claims.domain.errors import InvalidDeclaration, UnknownMotif
from ipe_claims.domain.motifs import MOTIFS
from ipe_claims.domain.rules import (
    FILED_BEFORE_LOSS,
    FILED_LATE,
    INSUFFICIENT_DAYS_12,
    INSUFFICIENT_DAYS_36,
    LOSS_BEFORE_SCHEME,
    MOTIF_NOT_INVOLUNTARY,
    PASSED,
    REJECTION_ORDER,
    REJETE,
    RULESETS,
    VALABLE,
    ClaimFacts,
    Decision,
    benefit_amount,
    benefit_end,
    decide,
    involuntary_loss,
    reference_salary,
    ruleset_for,
)

LOSS = date(2023, 3, 15)  # SMIG 2 970.05, as in the seed's examples
RULE_NAMES = [
    "loss_after_scheme_start",
    "involuntary_loss",
    "filed_in_time",
    "days_in_36_months",
    "days_in_12_months",
]


def history(
    loss: date, days: Sequence[int], salary: Decimal = Decimal("3000"), affiliation: str = "1234567"
) -> list[MonthlyDeclaration]:
    """Declarations for the last len(days) complete months before the loss month, oldest first."""
    months = months_before(loss, len(days))
    return [MonthlyDeclaration(affiliation, month, d, salary) for month, d in zip(months, days, strict=True)]


def facts(loss: date = LOSS, delay: int = 10, motif: str = "licenciement_economique") -> ClaimFacts:
    return ClaimFacts(job_loss_date=loss, filed_on=loss + timedelta(days=delay), motif_code=motif)


def failed(decision: Decision) -> list[str]:
    return [o.code for o in decision.outcomes if not o.passed]


# --- the seed's worked examples -------------------------------------------------------------------


@pytest.mark.parametrize(
    "declared, reference, amount",
    [
        ("1647", "1647.00", "1152.90"),
        ("2344", "2344.00", "1640.80"),
        ("6000", "6000.00", "2970.05"),
        ("10000", "6000.00", "2970.05"),  # capped at the 6 000 ceiling before averaging
    ],
)
def test_worked_examples(declared, reference, amount):
    decision = decide(facts(), history(LOSS, [26] * 36, Decimal(declared)))
    assert decision.situation == VALABLE
    assert decision.reference_salary == Decimal(reference)
    assert decision.monthly_amount == Decimal(amount)
    assert decision.smig_monthly == Decimal("2970.05")
    assert decision.duration_months == 6
    assert decision.to_dict()["monthly_amount"] == amount


@pytest.mark.parametrize(
    "reference, amount",
    [
        ("1647", "1152.90"),
        ("2344", "1640.80"),
        ("6000", "2970.05"),
        ("10000", "2970.05"),
        ("1000.75", "700.53"),
    ],
)
def test_benefit_amount_is_70_percent_half_up_capped_at_smig(reference, amount):
    assert benefit_amount(Decimal(reference), Decimal("2970.05"), Decimal("0.70")) == Decimal(amount)


def test_cap_follows_the_smig_at_the_loss_date():
    loss = date(2025, 2, 10)
    decision = decide(facts(loss), history(loss, [26] * 36, Decimal("6000")))
    assert decision.monthly_amount == Decimal("3266.10")


def test_months_without_declarations_count_as_zero_in_the_reference():
    declared = history(LOSS, [26] * 30, Decimal("3600"))  # 30 of 36 months
    decision = decide(facts(), declared)
    assert decision.reference_salary == Decimal("3000.00")
    assert decision.monthly_amount == Decimal("2100.00")


def test_reference_salary_rounds_half_up_to_the_centime():
    window = months_before(LOSS, 36)
    salaries = {window[0]: Decimal("1000.00"), window[1]: Decimal("0.26")}
    assert reference_salary(salaries, window) == Decimal("27.79")  # 1000.26 / 36 = 27.785 exactly


# --- thresholds -----------------------------------------------------------------------------------


@pytest.mark.parametrize("days, passed", [([0] * 6 + [26] * 29 + [25], False), ([0] * 6 + [26] * 30, True)])
def test_780_days_in_36_months(days, passed):
    decision = decide(facts(), history(LOSS, days))
    assert decision.days_36 == (780 if passed else 779)
    assert decision.days_12 >= 260
    assert decision.situation == (VALABLE if passed else REJETE)
    assert failed(decision) == ([] if passed else [INSUFFICIENT_DAYS_36])


@pytest.mark.parametrize("last_12, passed", [([26] * 9 + [25, 0, 0], False), ([26] * 10 + [0, 0], True)])
def test_260_days_in_12_months(last_12, passed):
    decision = decide(facts(), history(LOSS, [26] * 24 + last_12))
    assert decision.days_12 == (260 if passed else 259)
    assert decision.days_36 >= 780
    assert failed(decision) == ([] if passed else [INSUFFICIENT_DAYS_12])
    outcome = decision.outcomes[4]
    assert dict(outcome.figures) == {
        "declared_days": str(decision.days_12),
        "required": "260",
        "window_months": "12",
    }


@pytest.mark.parametrize(
    "delay, code", [(0, PASSED), (60, PASSED), (61, FILED_LATE), (-1, FILED_BEFORE_LOSS)]
)
def test_filing_deadline_counts_the_loss_date_as_day_0(delay, code):
    decision = decide(facts(delay=delay), history(LOSS, [26] * 36))
    outcome = decision.outcomes[2]
    assert outcome.rule == "filed_in_time"
    assert outcome.code == code
    assert outcome.figures["delay_days"] == str(delay)
    assert decision.situation == (VALABLE if code == PASSED else REJETE)


@pytest.mark.parametrize("loss, code", [(date(2014, 11, 30), LOSS_BEFORE_SCHEME), (date(2014, 12, 1), None)])
def test_scheme_starts_on_1_december_2014(loss, code):
    decision = decide(facts(loss), history(loss, [26] * 36))
    assert decision.ruleset_version == "ipe-2014.1"
    assert decision.rejection_code == code
    assert decision.smig_monthly == Decimal("2454.35")


def test_loss_before_the_smig_table_is_rejected_without_a_smig():
    decision = decide(facts(date(2010, 5, 3)), history(date(2010, 5, 3), [26] * 36))
    assert decision.rejection_code == LOSS_BEFORE_SCHEME
    assert decision.smig_monthly is None
    assert Decision.from_dict(decision.to_dict()) == decision


@pytest.mark.parametrize(
    "motif, situation",
    [("fin_cdd", VALABLE), ("faute_grave", REJETE), ("autre", REJETE), ("demission", REJETE)],
)
def test_motif_choices(motif, situation):
    decision = decide(facts(motif=motif), history(LOSS, [26] * 36))
    assert decision.situation == situation


def test_motif_rejection_names_the_motif_in_both_languages():
    decision = decide(facts(motif="abandon_poste"), history(LOSS, [26] * 36))
    assert decision.rejection_code == MOTIF_NOT_INVOLUNTARY
    assert decision.rejection_reason_fr == "Perte d'emploi suite à un motif exclu : Abandon de poste"
    assert decision.rejection_reason_ar == "فقدان الشغل لسبب مستثنى من التعويض: التخلي عن منصب الشغل"
    assert decision.reference_salary is None
    assert decision.monthly_amount is None
    assert decision.duration_months is None


def test_involuntary_motifs_are_a_ruleset_parameter():
    widened = dataclasses.replace(RULESETS[0], involuntary_motifs=frozenset({"autre"}))
    assert involuntary_loss(facts(motif="autre"), widened).passed
    assert not involuntary_loss(facts(motif="licenciement"), widened).passed


def test_unknown_motif_is_refused_with_the_facts():
    with pytest.raises(UnknownMotif):
        facts(motif="licenciement abusif")


# --- counting ---------------------------------------------------------------------------------------


def test_declared_days_count_at_most_26_per_month():
    decision = decide(facts(), history(LOSS, [31] * 36))
    assert decision.days_36 == 936
    assert decision.days_12 == 312


def test_two_affiliations_in_one_month_are_summed_then_capped():
    month = date(2022, 6, 1)
    declared = [
        MonthlyDeclaration("A", month, 20, Decimal("4000")),
        MonthlyDeclaration("B", month, 20, Decimal("4000")),
        MonthlyDeclaration("A", date(2022, 7, 1), 10, Decimal("1500")),
        MonthlyDeclaration("B", date(2022, 7, 1), 12, Decimal("2000.50")),
    ]
    assert days_by_month(declared, max_days_per_month=26) == {month: 26, date(2022, 7, 1): 22}
    assert salary_by_month(declared, salary_ceiling=Decimal("6000")) == {
        month: Decimal("6000"),
        date(2022, 7, 1): Decimal("3500.50"),
    }


def test_window_excludes_the_loss_month_and_the_37th_month_before():
    loss = date(2023, 3, 15)
    declared = [
        MonthlyDeclaration("A", date(2023, 3, 1), 26, Decimal("9000")),  # month of the loss
        MonthlyDeclaration("A", date(2020, 2, 1), 26, Decimal("9000")),  # 37 months before
        MonthlyDeclaration("A", date(2020, 3, 1), 5, Decimal("360")),  # 36th month: counted in 36 only
        MonthlyDeclaration("A", date(2022, 3, 1), 7, Decimal("0")),  # 12th month: in both
        MonthlyDeclaration("A", date(2022, 2, 1), 11, Decimal("0")),  # 13th month: 36 only
        MonthlyDeclaration("A", date(2023, 2, 1), 3, Decimal("0")),  # month before the loss
    ]
    decision = decide(facts(loss), declared)
    assert (decision.days_36, decision.days_12) == (26, 10)


def test_months_before():
    assert months_before(date(2023, 3, 15), 3) == [date(2022, 12, 1), date(2023, 1, 1), date(2023, 2, 1)]
    assert months_before(date(2023, 1, 1), 1) == [date(2022, 12, 1)]
    assert months_before(date(2023, 3, 31), 0) == []
    window = months_before(date(2023, 3, 15), 36)
    assert (window[0], window[-1], len(set(window))) == (date(2020, 3, 1), date(2023, 2, 1), 36)


@pytest.mark.parametrize(
    "period, days, salary",
    [(date(2022, 1, 2), 10, "100"), (date(2022, 1, 1), -1, "100"), (date(2022, 1, 1), 10, "-0.01")],
)
def test_impossible_declarations_are_refused(period, days, salary):
    with pytest.raises(InvalidDeclaration):
        MonthlyDeclaration("A", period, days, Decimal(salary))


# --- several failures ----------------------------------------------------------------------------------


def test_every_rule_is_evaluated_and_the_first_failure_in_order_is_the_rejection():
    decision = decide(facts(date(2014, 6, 1), delay=100, motif="demission"), [])
    assert [o.rule for o in decision.outcomes] == RULE_NAMES
    assert failed(decision) == [
        LOSS_BEFORE_SCHEME,
        MOTIF_NOT_INVOLUNTARY,
        FILED_LATE,
        INSUFFICIENT_DAYS_36,
        INSUFFICIENT_DAYS_12,
    ]
    assert decision.rejection_code == LOSS_BEFORE_SCHEME
    assert decision.rejection_reason_fr == (
        "Perte d'emploi le 01/06/2014, antérieure à l'entrée en vigueur de l'IPE le 01/12/2014 (loi n° 03-14)"
    )


@pytest.mark.parametrize(
    "claim, days, expected",
    [
        (facts(delay=100, motif="depart_volontaire"), [], MOTIF_NOT_INVOLUNTARY),
        (facts(delay=61), [], FILED_LATE),
        (facts(delay=-3), [], FILED_BEFORE_LOSS),
        (facts(), [26] * 12, INSUFFICIENT_DAYS_36),
        (facts(), [26] * 30 + [0] * 6, INSUFFICIENT_DAYS_12),
    ],
)
def test_rejection_code_is_the_first_failure(claim, days, expected):
    decision = decide(claim, history(claim.job_loss_date, days))
    assert decision.rejection_code == expected
    assert decision.rejection_code == failed(decision)[0]
    assert decision.situation == REJETE


def test_valable_decision_as_json():
    decision = decide(facts(), history(LOSS, [26] * 36, Decimal("1647")))
    data = json.loads(json.dumps(decision.to_dict()))
    assert {k: v for k, v in data.items() if k != "outcomes"} == {
        "situation": "Valable",
        "ruleset_version": "ipe-2014.1",
        "rejection_code": None,
        "rejection_reason_fr": None,
        "rejection_reason_ar": None,
        "reference_salary": "1647.00",
        "monthly_amount": "1152.90",
        "duration_months": 6,
        "smig_monthly": "2970.05",
        "days_36": 936,
        "days_12": 312,
    }
    assert data["outcomes"][3]["figures"] == {
        "declared_days": "936",
        "required": "780",
        "window_months": "36",
    }
    assert Decision.from_dict(data) == decision


# --- rulesets and benefit period ----------------------------------------------------------------------


def test_ruleset_for():
    assert ruleset_for(date(2000, 1, 1)) is RULESETS[0]
    assert ruleset_for(date(2024, 6, 1)).version == "ipe-2014.1"
    assert ruleset_for(date(2024, 6, 1)).min_days_36 == 780


@pytest.mark.parametrize(
    "loss, end",
    [
        (date(2023, 3, 15), date(2023, 9, 15)),
        (date(2023, 10, 10), date(2024, 4, 10)),
        (date(2023, 8, 31), date(2024, 2, 29)),
        (date(2023, 12, 31), date(2024, 6, 30)),
    ],
)
def test_benefit_end(loss, end):
    assert benefit_end(loss, 6) == end


# --- properties -------------------------------------------------------------------------------------------

losses = st.dates(min_value=date(2010, 1, 1), max_value=date(2027, 12, 31))


@st.composite
def cases(draw):
    loss = draw(losses)
    claim = ClaimFacts(
        job_loss_date=loss,
        filed_on=loss + timedelta(days=draw(st.integers(-3, 90))),
        motif_code=draw(st.sampled_from(list(MOTIFS))),
    )
    next_month = (loss.replace(day=1) + timedelta(days=32)).replace(day=1)
    months = months_before(next_month, 39)  # the loss month and the 38 before it
    declaration = st.builds(
        MonthlyDeclaration,
        st.sampled_from(["A", "B", "C"]),
        st.sampled_from(months),
        st.integers(0, 31),
        st.decimals(min_value=0, max_value=15000, places=2, allow_nan=False, allow_infinity=False),
    )
    declared = draw(st.lists(declaration, max_size=60))
    if draw(st.booleans()):  # a full career too, so that Valable decisions are drawn as well
        declared += history(loss, [26] * 36, draw(st.sampled_from([Decimal("1647"), Decimal("9000")])))
    return claim, declared


@settings(max_examples=300)
@given(cases())
def test_decide_is_deterministic_and_order_independent(case):
    claim, declared = case
    assert decide(claim, declared) == decide(claim, declared) == decide(claim, list(reversed(declared)))


@settings(max_examples=300)
@given(cases())
def test_decision_invariants(case):
    claim, declared = case
    decision = decide(claim, declared)
    assert [o.rule for o in decision.outcomes] == RULE_NAMES
    failures = [o.code for o in decision.outcomes if not o.passed]
    assert 0 <= decision.days_12 <= decision.days_36 <= 936
    if failures:
        assert decision.situation == REJETE
        assert decision.rejection_code == min(failures, key=REJECTION_ORDER.index)
        assert decision.monthly_amount is None
    else:
        assert decision.situation == VALABLE
        assert decision.rejection_code is None
        assert decision.smig_monthly is not None and decision.monthly_amount is not None
        assert Decimal(0) <= decision.monthly_amount <= decision.smig_monthly
        assert decision.monthly_amount == decision.monthly_amount.quantize(Decimal("0.01"))


@settings(max_examples=300)
@given(cases())
def test_decision_round_trips_through_json(case):
    decision = decide(*case)
    assert Decision.from_dict(decision.to_dict()) == decision
    assert Decision.from_dict(json.loads(json.dumps(decision.to_dict()))) == decision
