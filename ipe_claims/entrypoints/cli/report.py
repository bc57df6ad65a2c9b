"""``ipe report``: the analysts' overview, in the terminal and as HTML with charts; no personal data."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table
from rich.text import Text

from ipe_claims.analytics.html_report import render_html
from ipe_claims.analytics.report import PeriodError, overview, parse_period
from ipe_claims.analytics.wording import HEADINGS, TABLES, TEXT_COLUMNS, cell
from ipe_claims.entrypoints.cli.context import connect, console, fail

app = typer.Typer()
# Below 100 columns the amounts leave out their monthly sum (the mean times the claims), so 80 columns hold
# every figure whole.
NARROW_LEAVES_OUT = {"amounts_per_month": ("sum",)}


def table(title: str, rows: list[dict[str, Any]], columns: tuple[str, ...], threshold: int) -> Table:
    """One overview table in French; long cells (an example reason, a name) wrap rather than run off."""
    shown = Table(title=title, title_justify="left", expand=False)
    for column in columns:
        numeric = column not in TEXT_COLUMNS
        cells = [cell(row, column, threshold) for row in rows]
        # A figure or a month never breaks across lines (a figure's thousands separator is a space): its column
        # is at least as wide as its longest value; headings and long texts wrap.
        widest = max(map(len, cells), default=1) if numeric or column == "month" else None
        shown.add_column(HEADINGS[column], justify="right" if numeric else "left", min_width=widest,
                         overflow="fold")  # fmt: skip
    for row in rows:
        shown.add_row(*(Text(cell(row, column, threshold)) for column in columns))
    return shown


@app.command()
def report(
    start: Annotated[str | None, typer.Option("--from", help="First filing date (YYYY-MM-DD).")] = None,
    end: Annotated[str | None, typer.Option("--to", help="Last filing date (YYYY-MM-DD).")] = None,
    html: Annotated[Path | None, typer.Option(help="Also write an HTML report with charts.")] = None,
) -> None:
    """The key tables of the analytics views, in French; no personal data."""
    try:
        period = parse_period(start, end)
    except PeriodError as exc:
        raise fail(str(exc), 2) from None
    with connect(autocommit=False) as conn:
        tables = overview(conn, period)
    totals, k = tables["totals"], tables["small_cell_threshold"]
    # Tables and this summary wrap to the terminal's width (80 columns included), unlike a command to copy.
    console.print(f"Période (date de dépôt) {period.label()} : {cell(totals, 'claims', k)} demandes, "
                  f"{cell(totals, 'valid', k)} valables, {cell(totals, 'rejected', k)} rejetées, "
                  f"{cell(totals, 'pending', k)} en cours ; {cell(totals, 'total_amount', k)} DH accordés. "
                  f"Les groupes de moins de {k} demandes s'affichent <{k}.", markup=False, soft_wrap=False)  # fmt: skip
    for title, name, columns in TABLES:
        if tables[name]:
            shown = tuple(column for column in columns if column not in NARROW_LEAVES_OUT.get(name, ()))
            console.print(
                table(title, tables[name], shown if console.width < 100 else columns, k), soft_wrap=False
            )
        else:
            console.print(f"{title} : aucune donnée.", soft_wrap=False)
    if html:
        html.write_text(render_html(tables, period.label()), encoding="utf-8")
        console.print(f"Rapport HTML : {html}", soft_wrap=False)
