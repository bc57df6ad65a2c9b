"""``ipe affiliations load FILE.csv``: names, cities and regions of the employers (for the report)."""

from __future__ import annotations

from pathlib import Path

import typer

from ipe_claims.adapters.affiliations import AffiliationFileError, load_affiliations, read_affiliations
from ipe_claims.entrypoints.cli.context import connect, console, fail

app = typer.Typer(help="Affiliations reference data.", no_args_is_help=True)


@app.command()
def load(path: Path) -> None:
    """Load a CSV (affiliation_number,name,city,region); a known affiliation's row replaces it."""
    try:
        rows = read_affiliations(path)
    except (OSError, AffiliationFileError) as exc:
        raise fail(f"{exc} (nothing was loaded)") from None
    with connect() as conn:
        count = load_affiliations(conn, rows)
    console.print(f"Loaded {count} affiliations.")
