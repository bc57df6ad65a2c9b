"""The reference salary's divisor as a rule parameter: the reading in force divides by the 36 months of the
window (unchanged decisions), the other by the months with a declared salary (simulations only)."""

from __future__ import annotations

import dataclasses
from datetime import date, timedelta
from decimal import ROUND_HALF_UP, Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ipe_claims.domain.contributions import MonthlyDeclaration, months_before
from ipe_claims.domain.rules import (
    REFERENCE_OVER_DECLARED,
    REFERENCE_OVER_WINDOW,
    RULESETS,
    VALABLE,
    ClaimFacts,
    decide,
    reference_salary,
    ruleset_for,
)
from ipe_claims.domain.smig import CENTIME

LOSS = date(2023, 3, 15)
WINDOW = months_before(LOSS, 36)
salary = st.decimals(min_value=0, max_value=6000, places=2, allow_nan=False, allow_infinity=False)
salaries_in_window = st.dictionaries(st.sampled_from(WINDOW), salary, max_size=36)


def history(declared: dict[date, Decimal], days: int = 26) -> list[MonthlyDeclaration]:
    return [MonthlyDeclaration("A", month, days, amount) for month, amount in declared.items()]


def test_every_published_ruleset_divides_by_the_36_months() -> None:
    assert all(ruleset.reference_divisor == REFERENCE_OVER_WINDOW for ruleset in RULESETS)


@given(salaries_in_window)
def test_the_default_reading_is_the_sum_over_36_months_to_the_centime(salaries: dict[date, Decimal]) -> None:
    expected = (sum(salaries.values(), Decimal(0)) / 36).quantize(CENTIME, rounding=ROUND_HALF_UP)
    assert reference_salary(salaries, WINDOW) == expected
    assert reference_salary(salaries, WINDOW, REFERENCE_OVER_WINDOW) == expected


@settings(max_examples=100)
@given(st.lists(salary, min_size=36, max_size=36), st.sets(st.integers(0, 35), max_size=6))
def test_a_decision_by_the_rules_in_force_is_the_default_reading(
    amounts: list[Decimal], gaps: set[int]
) -> None:
    declared = {m: a for i, (m, a) in enumerate(zip(WINDOW, amounts, strict=True)) if i not in gaps}
    facts = ClaimFacts(LOSS, LOSS + timedelta(days=5), "licenciement")
    explicit = dataclasses.replace(ruleset_for(LOSS), reference_divisor=REFERENCE_OVER_WINDOW)
    live = decide(facts, history(declared))
    assert live == decide(facts, history(declared), explicit)
    assert live.ruleset_version == "ipe-2014.1"
    if live.situation == VALABLE:
        assert live.reference_salary == reference_salary(declared, WINDOW)


def test_months_declared_divides_by_the_months_with_a_salary_only() -> None:
    declared = {month: Decimal("3000") for month in WINDOW[6:]}  # 30 of 36 months
    facts = ClaimFacts(LOSS, LOSS + timedelta(days=5), "licenciement")
    by_window = decide(facts, history(declared))
    by_declared = decide(
        facts,
        history(declared),
        dataclasses.replace(ruleset_for(LOSS), reference_divisor=REFERENCE_OVER_DECLARED),
    )
    assert (by_window.reference_salary, by_window.monthly_amount) == (Decimal("2500.00"), Decimal("1750.00"))
    assert (by_declared.reference_salary, by_declared.monthly_amount) == (
        Decimal("3000.00"),
        Decimal("2100.00"),
    )
    assert by_declared.situation == VALABLE


@given(salaries_in_window)
def test_months_declared_never_gives_less_and_agrees_when_every_month_is_paid(
    salaries: dict[date, Decimal],
) -> None:
    by_declared = reference_salary(salaries, WINDOW, REFERENCE_OVER_DECLARED)
    assert by_declared >= reference_salary(salaries, WINDOW)
    if all(salaries.get(month, Decimal(0)) > 0 for month in WINDOW):
        assert by_declared == reference_salary(salaries, WINDOW)


def test_no_month_to_divide_by_gives_zero() -> None:
    assert reference_salary({}, WINDOW, REFERENCE_OVER_DECLARED) == Decimal("0.00")


def test_an_unknown_divisor_is_refused() -> None:
    with pytest.raises(ValueError, match="reference_divisor"):
        dataclasses.replace(RULESETS[0], reference_divisor="24")  # type: ignore[arg-type]
