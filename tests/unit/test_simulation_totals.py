"""The simulation's cost counts the months granted, as the report does: a return to work cuts them, under
the live rules and the simulated ones alike; a rule file may set the reference salary's divisor."""

from __future__ import annotations

import dataclasses
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path

import pytest

from ipe_claims.analytics.simulation import RuleFileError, Tally, alternative, load_rules, months_granted
from ipe_claims.domain.contributions import MonthlyDeclaration, months_before
from ipe_claims.domain.lifecycle import return_to_work
from ipe_claims.domain.rules import (
    REFERENCE_OVER_DECLARED,
    RULESETS,
    ClaimFacts,
    Decision,
    decide,
    ruleset_for,
)

LOSS = date(2023, 3, 15)
FACTS = ClaimFacts(LOSS, LOSS + timedelta(days=5), "licenciement")
HISTORY = [MonthlyDeclaration("A", month, 26, Decimal("3000")) for month in months_before(LOSS, 36)[6:]]
RETURNED = return_to_work(LOSS, 6, date(2023, 5, 20), date(2023, 5, 21), ruleset_for(LOSS))  # 3rd month


def under(**changes: object) -> Decision:
    return decide(FACTS, HISTORY, dataclasses.replace(ruleset_for(LOSS), **changes))  # type: ignore[arg-type]


def test_months_granted_are_the_duration_or_those_a_return_left_due() -> None:
    live = decide(FACTS, HISTORY)
    assert months_granted(live, LOSS, None) == 6
    assert months_granted(live, LOSS, RETURNED) == RETURNED.months_due == 3
    assert months_granted(under(duration_months=2), LOSS, RETURNED) == 2  # the return comes after its end
    assert months_granted(under(min_days_36=2000), LOSS, None) == 0  # rejected


def test_a_returned_claim_costs_its_months_due_now_and_simulated() -> None:
    tally = Tally()
    tally.add(decide(FACTS, HISTORY), under(reference_divisor=REFERENCE_OVER_DECLARED), LOSS, RETURNED)
    # 30 months at 3 000: 2 500.00 over 36 → 1 750.00 a month; 3 000.00 over 30 → 2 100.00; 3 months due
    assert (tally.monthly_live, tally.monthly_alternative) == (Decimal("1750.00"), Decimal("2100.00"))
    assert (tally.total_live, tally.total_alternative) == (Decimal("5250.00"), Decimal("6300.00"))
    assert tally.total_difference == Decimal("1050.00")


def test_a_rule_file_sets_the_reference_divisor(tmp_path: Path) -> None:
    path = tmp_path / "rules.toml"
    path.write_text('version = "declared-months"\nreference_divisor = "months_declared"\n', encoding="utf-8")
    scenario = alternative(RULESETS[0], load_rules(path))
    assert (scenario.version, scenario.reference_divisor) == ("declared-months", REFERENCE_OVER_DECLARED)
    path.write_text('version = "x"\nreference_divisor = "24"\n', encoding="utf-8")
    with pytest.raises(RuleFileError, match="reference_divisor"):
        load_rules(path)
