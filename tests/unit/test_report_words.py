"""The overview as people read it: French headings, rules named in words, charts whose axes are named and
whose values are written, tables that stay readable at 80 columns."""

from __future__ import annotations

import re
from decimal import Decimal
from typing import Any

from rich.console import Console

from ipe_claims.analytics.html_report import nice_step, render_html
from ipe_claims.analytics.wording import HEADINGS, RULE_NAMES, TABLES, cell, number
from ipe_claims.domain.rules import REJECTION_ORDER
from ipe_claims.entrypoints.cli.report import NARROW_LEAVES_OUT, table


def tables() -> dict[str, Any]:
    reason = "Nombre de jours déclarés dans les 36 mois précédant la perte d'emploi (520) est inférieur à 780"
    return {
        "period": {"from": "2028-01-01", "to": "2028-02-29"},
        "small_cell_threshold": 5,
        "totals": {
            "claims": 42,
            "valid": 30,
            "rejected": 12,
            "pending": 0,
            "total_amount": Decimal("504000.00"),
        },
        "claims_per_month": [
            {"month": "2028-01-01", "situation": "Rejeté", "claims": 7},
            {"month": "2028-01-01", "situation": "Valable", "claims": 18},
            {"month": "2028-02-01", "situation": "Rejeté", "claims": 5},
            {"month": "2028-02-01", "situation": "Valable", "claims": 12},
        ],
        "rejection_reasons": [
            {
                "rejection_code": "insufficient_days_36",
                "example_reason": reason,
                "claims": 8,
                "share": Decimal("0.6667"),
            },
            {
                "rejection_code": "motif_not_involuntary",
                "example_reason": None,
                "claims": None,
                "share": None,
                "suppressed": ["claims", "share", "example_reason"],
            },
        ],
        "motifs": [
            {
                "motif_code": "licenciement",
                "motif_label": "Licenciement (autre motif)",
                "claims": 42,
                "valid": 30,
                "rejected": 12,
            }
        ],
        "amounts_per_month": [
            {
                "month": "2028-01-01",
                "valid_claims": 18,
                "sum": Decimal("50400.00"),
                "mean": Decimal("2800.00"),
                "median": Decimal("2800.00"),
                "months_granted": 108,
                "total_amount": Decimal("302400.00"),
            }
        ],
        "decision_delays": [
            {
                "month": "2028-01-01",
                "decided": 25,
                "mean_days": Decimal("0.40"),
                "median_days": 0.0,
                "max_days": 3,
            }
        ],
        "by_region": [
            {"region": "Casablanca-Settat", "claims": 42, "valid": 30, "total_amount": Decimal("504000.00")}
        ],
        "top_affiliations": [
            {
                "affiliation_number": "1234567",
                "affiliation_name": "Atlas Textiles SARL",
                "claims": 42,
                "valid": 30,
                "total_amount": Decimal("504000.00"),
            }
        ],
    }


def test_every_rule_that_rejects_has_a_name_in_words() -> None:
    assert set(REJECTION_ORDER) <= set(RULE_NAMES)
    assert all(" " in name and "_" not in name for name in RULE_NAMES.values())
    assert all(" " in heading or heading.istitle() for heading in HEADINGS.values())


def test_cells_read_as_french_figures() -> None:
    row = {"claims": 1234, "share": Decimal("0.6667"), "total_amount": Decimal("16800.5"), "month": "2028-01-01",
           "rejection_code": "filed_late", "mean": None, "suppressed": ["mean"]}  # fmt: skip
    assert [cell(row, c, 5) for c in ("claims", "share", "total_amount", "month", "rejection_code", "mean")] == [
        "1\u202f234", "66,7 %", "16\u202f800,50", "2028-01", "Demande déposée hors délai", "<5"]  # fmt: skip
    assert number(0.5) == "0,5" and number(3) == "3"


def test_the_html_report_names_its_axes_writes_its_values_and_speaks_french() -> None:
    page = render_html(tables(), "2028-01-01 → 2028-02-29")
    assert page.count("<svg") == 2
    for words in (
        "Nombre de demandes",
        "Mois de dépôt",
        "Part des rejets (%)",
        "Jours déclarés insuffisants sur 36 mois",
        "Perte d'emploi non involontaire",
        "66,7 % (8 demandes)",
        "&lt;5 demandes",
        "Montant total (DH)",
    ):
        assert words in page.replace("&#39;", "'"), words
    values_drawn = re.findall(r">(\d+)</text>", page)
    assert {"25", "18", "7", "17", "12", "5"} <= set(values_drawn)  # totals and each segment of the bars
    for code in (
        "insufficient_days_36",
        "motif_not_involuntary",
        "rejection_code",
        "valid_claims",
        "mean_days",
        "affiliation_name",
        "total_amount",
        "motif_code",
    ):
        assert code not in page, code


def test_an_empty_period_says_so() -> None:
    empty = tables() | {"claims_per_month": [], "rejection_reasons": []}
    page = render_html(empty, "…")
    assert "Aucune demande déposée dans la période" in page and "Aucun rejet dans la période" in page


def test_tables_wrap_readably_at_80_columns() -> None:
    console = Console(width=80, record=True, color_system=None)
    data = tables()
    for title, name, columns in TABLES:
        shown = tuple(column for column in columns if column not in NARROW_LEAVES_OUT.get(name, ()))
        console.print(table(title, data[name], shown, 5))
    text = console.export_text()
    assert max(len(line) for line in text.splitlines()) <= 80
    assert "Raison sociale" in text and "Atlas Textiles" in text and "Casablanca-Settat" in text
    for figure in ("302\u202f400,00", "2\u202f800,00", "504\u202f000,00", "66,7 %", "2028-01"):
        assert figure in text, figure  # whole, on one line
    reason = re.sub(r"\s+", " ", " ".join(re.findall(r"│ ([^│]*?) *│\s*$", text, re.MULTILINE)))
    assert "inférieur à 780" in reason  # the long example reason wraps in its column, whole


def test_nice_steps() -> None:
    assert [nice_step(n) for n in (1, 3, 8, 25, 42, 230)] == [1, 1, 2, 10, 20, 100]
