"""Rule-set files for policy simulation: what they may change, and clear refusals."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest

from ipe_claims.analytics.simulation import RuleFileError, alternative, load_rules
from ipe_claims.domain.rules import RULESETS


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "rules.toml"
    path.write_text(text, encoding="utf-8")
    return path


def test_a_scenario_changes_only_what_it_names(tmp_path: Path) -> None:
    changes = load_rules(
        write(
            tmp_path, 'version = "cgem-2021"\nmin_days_36 = 636\nmin_days_12 = 212\nreplacement_rate = 0.6\n'
        )
    )
    scenario = alternative(RULESETS[0], changes)
    assert (scenario.version, scenario.min_days_36, scenario.min_days_12) == ("cgem-2021", 636, 212)
    assert (
        scenario.replacement_rate == Decimal("0.6")
        and scenario.duration_months == RULESETS[0].duration_months
    )


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("min_days_36 = 600\n", "'version'"),
        ('version = "x"\nmin_days = 1\n', "unknown parameter"),
        ('version = "x"\nmin_days_36 = -1\n', "whole number"),
        ('version = "x"\nmin_days_36 = "many"\n', "whole number"),
        ('version = "x"\nreplacement_rate = 1.5\n', "out of range"),
        ('version = "x"\ninvoluntary_motifs = ["vacances"]\n', "motif codes"),
        ('version = "x"\nmin_days_36 = 100\nmin_days_12 = 200\n', "cannot exceed"),
        ("version = \n", "not a readable TOML"),
    ],
)
def test_bad_files_are_refused_with_the_reason(tmp_path: Path, text: str, message: str) -> None:
    with pytest.raises(RuleFileError, match=message):
        load_rules(write(tmp_path, text))
