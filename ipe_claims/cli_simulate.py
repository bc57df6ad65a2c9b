"""``ipe simulate``: the claims of a period decided again under another rule set (see analytics/simulation)."""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Annotated

import psycopg
import typer
from rich.console import Console
from rich.table import Table

from ipe_claims.adapters.templating import html_environment
from ipe_claims.analytics.simulation import RuleFileError, SimulationReport, load_rules, simulate

console = Console(soft_wrap=True)


def render_html(report: SimulationReport) -> str:
    months = sorted(report.by_month.items())
    top = max([max(t.total_live, t.total_alternative) for _, t in months] + [1])
    bars = [
        (month, int(180 * t.total_live / top), int(180 * t.total_alternative / top)) for month, t in months
    ]
    env = html_environment(Path(__file__).parent / "analytics" / "templates")
    return env.get_template("simulation.html.j2").render(report=report, bars=bars)


def simulate_command(
    rules: Annotated[Path, typer.Option(help="TOML rule-set file (version + the parameters it changes).")],
    start: Annotated[str | None, typer.Option("--from", help="First job-loss date (YYYY-MM-DD).")] = None,
    end: Annotated[str | None, typer.Option("--to", help="Last job-loss date (YYYY-MM-DD).")] = None,
    html: Annotated[Path | None, typer.Option(help="Also write an HTML report with charts.")] = None,
) -> None:
    """Replay every decided claim of the period under an alternative rule set; nothing is written."""
    from ipe_claims.cli import _database_url
    from ipe_claims.entrypoints.bootstrap import make_app
    from ipe_claims.settings import Settings

    try:
        changes = load_rules(rules)
        period = (date.fromisoformat(start) if start else None, date.fromisoformat(end) if end else None)
    except RuleFileError as exc:
        console.print(f"[red]{exc}[/red]")
        raise typer.Exit(2) from None
    except ValueError:
        console.print("[red]--from and --to are dates (YYYY-MM-DD).[/red]")
        raise typer.Exit(2) from None
    url = _database_url()
    store = make_app(Settings.from_env().changed(database={"url": url}))
    try:
        with psycopg.connect(url) as conn:
            report = simulate(conn, store, changes, *period)
    finally:
        store.close()
    table = Table(
        "", "claims", "→ Valable", "→ Rejeté", "total now (DH)", "total simulated (DH)", "difference"
    )
    for name, tally in [("all", report.overall), *sorted(report.by_motif.items())]:
        table.add_row(name, str(tally.claims), str(tally.to_valable), str(tally.to_rejete), str(tally.total_live),
                      str(tally.total_alternative), str(tally.total_difference))  # fmt: skip
    console.print(f"Simulation {report.version}: {len(report.changed)} decision(s) change.")
    console.print(table)
    if html:
        html.write_text(render_html(report), encoding="utf-8")
        console.print(f"HTML report: {html}")
