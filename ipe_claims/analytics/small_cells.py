"""Small-cell suppression of the overview report, as statistics offices do it.

A count from 1 to ``threshold − 1`` is not shown (None), nor is any figure computed from those claims
(amounts, delays, shares, the example reason). Where a table's rows add up to a figure that is shown
(claims per month add up to the total), one suppressed row could be found again by subtraction: the next
smallest row is suppressed with it (complementary suppression). Zeros are shown: they are nobody.
Pure functions over the report's rows; the threshold is the database's (``analytics_policy``), so the
report and the analyst views (migration 073) suppress alike.
"""

from __future__ import annotations

from typing import Any

# Per table: each count column and the figures computed from the claims it counts.
DEPENDS: dict[str, dict[str, tuple[str, ...]]] = {
    "totals": {"claims": (), "valid": ("total_amount",), "rejected": (), "pending": ()},
    "claims_per_month": {"claims": ()},
    "rejection_reasons": {"claims": ("share", "example_reason")},
    "motifs": {"claims": (), "valid": (), "rejected": ()},
    "amounts_per_month": {"valid_claims": ("sum", "mean", "median", "months_granted", "total_amount")},
    "decision_delays": {"decided": ("mean_days", "median_days", "max_days")},
    "by_region": {"claims": (), "valid": ("total_amount",)},
    "top_affiliations": {"claims": (), "valid": ("total_amount",)},
}
# Count columns whose rows add up to a figure shown elsewhere (the totals): complement them.
ADDITIVE = {"claims_per_month": ("claims",), "rejection_reasons": ("claims",), "motifs": ("claims", "valid"),
            "amounts_per_month": ("valid_claims",), "by_region": ("claims", "valid")}  # fmt: skip
# Within the totals, valid + rejected + pending = claims.
PARTS = ("valid", "rejected", "pending")


def _small(value: Any, threshold: int) -> bool:
    return isinstance(value, int) and 0 < value < threshold


def _hide(row: dict[str, Any], column: str, depends: dict[str, tuple[str, ...]]) -> None:
    for name in (column, *depends.get(column, ())):
        if name in row:
            row[name] = None
    row["suppressed"] = sorted({*row["suppressed"], column, *depends.get(column, ())} & set(row))


def _complement(rows: list[dict[str, Any]], columns: tuple[str, ...], depends: dict[str, tuple[str, ...]],
                hidden: list[tuple[int, str]]) -> None:  # fmt: skip
    """When exactly one row's ``column`` is hidden, hide the smallest other positive one too."""
    for column in columns:
        if sum(1 for _, name in hidden if name == column) != 1:
            continue
        shown = [r for r in rows if isinstance(r.get(column), int) and r[column] > 0]
        if shown:
            _hide(min(shown, key=lambda r: r[column]), column, depends)


def suppress(tables: dict[str, Any], threshold: int) -> dict[str, Any]:
    """The report's tables with their small cells hidden; each row lists what it hides in ``suppressed``."""
    for name, depends in DEPENDS.items():
        rows = [tables[name]] if name == "totals" else tables[name]
        hidden: list[tuple[int, str]] = []
        for n, row in enumerate(rows):
            row["suppressed"] = []
            for column in depends:
                if _small(row.get(column), threshold):
                    hidden.append((n, column))
            for _, column in [h for h in hidden if h[0] == n]:
                _hide(row, column, depends)
        if name == "totals":
            parts_hidden = [(0, p) for p in PARTS if p in rows[0]["suppressed"]]
            if len(parts_hidden) == 1 and rows[0]["claims"] is not None:
                others = [p for p in PARTS if isinstance(rows[0][p], int) and rows[0][p] > 0]
                if others:
                    _hide(rows[0], min(others, key=lambda p: rows[0][p]), depends)
        else:
            _complement(rows, ADDITIVE.get(name, ()), depends, hidden)
    tables["small_cell_threshold"] = threshold
    return tables
