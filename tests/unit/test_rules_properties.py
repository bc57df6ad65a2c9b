"""Properties the fund relies on: more salary never pays less, more declared days never hurt."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

from hypothesis import given, settings
from hypothesis import strategies as st

from ipe_claims.domain.contributions import MonthlyDeclaration, months_before
from ipe_claims.domain.rules import VALABLE, ClaimFacts, benefit_amount, decide
from ipe_claims.domain.smig import smig_monthly

salaries = st.decimals(min_value=0, max_value=20000, places=2, allow_nan=False, allow_infinity=False)
losses = st.dates(min_value=date(2014, 12, 1), max_value=date(2026, 12, 31))


@given(losses, salaries, salaries)
def test_the_amount_never_exceeds_the_smig_and_never_falls_when_the_reference_rises(
    loss: date, a: Decimal, b: Decimal
) -> None:
    smig = smig_monthly(loss)
    low, high = sorted((a, b))
    assert benefit_amount(low, smig, Decimal("0.70")) <= benefit_amount(high, smig, Decimal("0.70")) <= smig


@settings(max_examples=200)
@given(
    losses,
    st.lists(st.integers(0, 26), min_size=36, max_size=36),
    st.integers(0, 35),
    st.integers(1, 26),
)
def test_adding_declared_days_never_turns_a_valable_into_a_rejection(
    loss: date, days: list[int], month_index: int, extra: int
) -> None:
    facts = ClaimFacts(loss, loss + timedelta(days=5), "licenciement_economique")
    window = months_before(loss, 36)
    history = [MonthlyDeclaration("A", m, d, Decimal("3000")) for m, d in zip(window, days, strict=True)]
    more = [*history, MonthlyDeclaration("B", window[month_index], extra, Decimal("0"))]
    before, after = decide(facts, history), decide(facts, more)
    assert after.days_36 >= before.days_36 and after.days_12 >= before.days_12
    if before.situation == VALABLE:
        assert after.situation == VALABLE
