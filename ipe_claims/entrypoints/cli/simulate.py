"""``ipe simulate``: the claims of a period decided again under another rule set (see analytics/simulation)."""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Annotated

import typer

from ipe_claims.analytics.simulation import RuleFileError, load_rules, simulate
from ipe_claims.analytics.simulation_html import render_html
from ipe_claims.entrypoints.cli.context import connect, console, fail, instance_settings, row, store, table

app = typer.Typer()


@app.command("simulate")
def simulate_command(
    rules: Annotated[Path, typer.Option(help="TOML rule-set file (version + the parameters it changes).")],
    start: Annotated[str | None, typer.Option("--from", help="First job-loss date (YYYY-MM-DD).")] = None,
    end: Annotated[str | None, typer.Option("--to", help="Last job-loss date (YYYY-MM-DD).")] = None,
    html: Annotated[Path | None, typer.Option(help="Also write an HTML report with charts.")] = None,
) -> None:
    """Replay every decided claim of the period under an alternative rule set; nothing is written."""
    try:
        changes = load_rules(rules)
        period = (date.fromisoformat(start) if start else None, date.fromisoformat(end) if end else None)
    except RuleFileError as exc:
        raise fail(str(exc), 2) from None
    except ValueError:
        raise fail("--from and --to are dates (YYYY-MM-DD).", 2) from None
    with store(instance_settings()) as claims, connect(autocommit=False) as conn:
        report = simulate(conn, claims, changes, *period)
    shown = table(
        "", "claims", "→ Valable", "→ Rejeté", "total now (DH)", "total simulated (DH)", "difference"
    )
    for name, tally in [("all", report.overall), *sorted(report.by_motif.items())]:
        row(shown, name, tally.claims, tally.to_valable, tally.to_rejete, tally.total_live,
            tally.total_alternative, tally.total_difference)  # fmt: skip
    console.print(f"Simulation {report.version}: {len(report.changed)} decision(s) change.")
    console.print(shown)
    if html:
        html.write_text(render_html(report), encoding="utf-8")
        console.print(f"HTML report: {html}")
