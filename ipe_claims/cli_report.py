"""``ipe report`` (the analysts' overview, in the terminal and as HTML with charts) and
``ipe affiliations load`` (names, cities and regions of the employers)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import psycopg
import typer
from rich.console import Console
from rich.table import Table

from ipe_claims.adapters.affiliations import AffiliationFileError, load_affiliations, read_affiliations
from ipe_claims.analytics.report import PeriodError, overview, parse_period
from ipe_claims.templating import html_environment

console = Console(soft_wrap=True)
affiliations_app = typer.Typer(help="Affiliations reference data.", no_args_is_help=True)
COLORS = {"Valable": "#393", "Rejeté": "#c33", "En cours": "#999"}
SECTIONS = [("Motifs de perte d'emploi", "motifs"), ("Montants par mois", "amounts_per_month"),
            ("Délais de décision (jours)", "decision_delays"), ("Par région", "by_region"),
            ("Affiliations les plus concernées", "top_affiliations")]  # fmt: skip


def cell(row: dict[str, Any], column: str, threshold: int) -> str:
    """A value as people read it: ``<5`` where a small cell is suppressed (docs/analytics.md)."""
    if column in row.get("suppressed", ()):
        return f"<{threshold}"
    value = row[column]
    return "" if value is None else str(value)


def render_html(tables: dict[str, Any], period: str) -> str:
    per_month: dict[str, dict[str, int]] = {}
    for row in tables["claims_per_month"]:  # a suppressed count draws no bar
        per_month.setdefault(str(row["month"])[:7], {})[row["situation"]] = row["claims"] or 0
    months: list[dict[str, Any]] = [{"month": m, "counts": counts} for m, counts in sorted(per_month.items())]
    tallest = max([sum(m["counts"].values()) for m in months] + [1])
    env = html_environment(Path(__file__).parent / "analytics" / "templates")
    return env.get_template("report.html.j2").render(
        t=tables, period=period, months=months, scale=180 / tallest, colors=COLORS, sections=SECTIONS,
        cell=lambda row, column: cell(row, column, tables["small_cell_threshold"]),
    )  # fmt: skip


def _print(title: str, rows: list[dict[str, Any]], threshold: int) -> None:
    if not rows:
        return
    columns = [name for name in rows[0] if name != "suppressed"]
    table = Table(*columns, title=title)
    for row in rows:
        table.add_row(*(cell(row, name, threshold) for name in columns))
    console.print(table)


def report_command(
    start: Annotated[str | None, typer.Option("--from", help="First filing date (YYYY-MM-DD).")] = None,
    end: Annotated[str | None, typer.Option("--to", help="Last filing date (YYYY-MM-DD).")] = None,
    html: Annotated[Path | None, typer.Option(help="Also write an HTML report with charts.")] = None,
) -> None:
    """The key tables of the analytics views; no personal data."""
    from ipe_claims.cli import _database_url

    try:
        period = parse_period(start, end)
    except PeriodError as exc:
        console.print(f"[red]{exc}[/red]")
        raise typer.Exit(2) from None
    with psycopg.connect(_database_url()) as conn:
        tables = overview(conn, period)
    totals, k = tables["totals"], tables["small_cell_threshold"]
    console.print(f"{period.label()}: {cell(totals, 'claims', k)} claims, {cell(totals, 'valid', k)} valid, "
                  f"{cell(totals, 'rejected', k)} rejected, {cell(totals, 'pending', k)} pending; "
                  f"{cell(totals, 'total_amount', k)} DH granted. Groups of fewer than {k} claims show <{k}.",
                  markup=False)  # fmt: skip
    for title, name in [("Claims per month", "claims_per_month"), ("Rejection reasons", "rejection_reasons"),
                        *SECTIONS]:  # fmt: skip
        _print(title, tables[name], k)
    if html:
        html.write_text(render_html(tables, period.label()), encoding="utf-8")
        console.print(f"HTML report: {html}")


@affiliations_app.command("load")
def affiliations_load(path: Path) -> None:
    """Load a CSV (affiliation_number,name,city,region); a known affiliation's row replaces it."""
    from ipe_claims.cli import _database_url

    try:
        rows = read_affiliations(path)
    except (OSError, AffiliationFileError) as exc:
        console.print(f"[red]{exc}[/red] (nothing was loaded)")
        raise typer.Exit(1) from None
    with psycopg.connect(_database_url(), autocommit=True) as conn:
        count = load_affiliations(conn, rows)
    console.print(f"Loaded {count} affiliations.")
