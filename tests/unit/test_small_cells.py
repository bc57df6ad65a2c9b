"""Small-cell suppression on its own: what is hidden, what is hidden with it, what stays."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from ipe_claims.analytics.small_cells import suppress


def tables(**changes: Any) -> dict[str, Any]:
    empty: dict[str, Any] = {name: [] for name in ("claims_per_month", "rejection_reasons", "motifs",
                             "amounts_per_month", "decision_delays", "by_region", "top_affiliations")}  # fmt: skip
    empty["totals"] = {"claims": 0, "valid": 0, "rejected": 0, "pending": 0, "total_amount": Decimal(0)}
    return empty | changes


def test_one_persons_benefit_is_not_an_aggregate() -> None:
    one = tables(
        totals={"claims": 1, "valid": 1, "rejected": 0, "pending": 0, "total_amount": Decimal("16800.00")},
        amounts_per_month=[
            {
                "month": "2019-05-01",
                "valid_claims": 1,
                "sum": Decimal("2800.00"),
                "mean": Decimal("2800.00"),
                "median": Decimal("2800.00"),
                "months_granted": 6,
                "total_amount": Decimal("16800.00"),
            }
        ],
    )
    shown = suppress(one, 5)
    assert shown["totals"] == {"claims": None, "valid": None, "rejected": 0, "pending": 0, "total_amount": None,
                               "suppressed": ["claims", "total_amount", "valid"]}  # fmt: skip
    month = shown["amounts_per_month"][0]
    assert month["month"] == "2019-05-01" and {month[k] for k in ("valid_claims", "sum", "mean", "median",
                                               "months_granted", "total_amount")} == {None}  # fmt: skip
    assert "2800" not in repr(shown) and "16800" not in repr(shown)


def test_a_lone_small_row_is_suppressed_with_the_next_smallest() -> None:
    rows = [{"region": r, "claims": n, "valid": n, "total_amount": Decimal(n * 100)}
            for r, n in (("A", 40), ("B", 2), ("C", 9), ("D", 7))]  # fmt: skip
    shown = suppress(tables(by_region=rows), 5)["by_region"]
    assert [r["claims"] for r in shown] == [40, None, 9, None]  # D hidden too: 58 − 40 − 9 = 9 otherwise
    assert [r["total_amount"] for r in shown] == [Decimal(4000), None, Decimal(900), None]


def test_a_lone_small_part_of_the_totals_is_hidden_with_another() -> None:
    totals = {"claims": 30, "valid": 20, "rejected": 7, "pending": 3, "total_amount": Decimal(1000)}
    shown = suppress(tables(totals=totals), 5)["totals"]
    assert (shown["claims"], shown["valid"], shown["rejected"], shown["pending"]) == (30, 20, None, None)
    assert shown["total_amount"] == Decimal(1000)


def test_zeros_and_large_groups_are_shown_and_the_threshold_is_a_setting() -> None:
    rows = [{"motif_code": "a", "claims": 12, "valid": 0, "rejected": 12}]
    assert suppress(tables(motifs=rows), 5)["motifs"][0] | {} == {**rows[0], "suppressed": []}
    rows = [{"motif_code": "a", "claims": 12, "valid": 0, "rejected": 12}]
    assert suppress(tables(motifs=rows), 20)["motifs"][0]["claims"] is None
