"""``ipe declarations load FILE.csv``: the contribution history (monthly declarations) from a CSV."""

from __future__ import annotations

from pathlib import Path

import typer

from ipe_claims.entrypoints.cli.context import connect, console, fail

app = typer.Typer(help="The contribution history (monthly declarations).", no_args_is_help=True)


@app.command()
def load(path: Path) -> None:
    """Load a CSV (affiliation_number,immatriculation,cin,nom,prenoms,period,days,salary); rows replace."""
    from ipe_claims.adapters.declarations import DeclarationFileError, load_csv

    try:
        with connect() as conn:
            report = load_csv(conn, path)  # Postgres parses and checks the file (COPY): docs/scaling.md
    except (OSError, DeclarationFileError) as exc:
        raise fail(f"{exc} (nothing was loaded)") from None
    console.print(
        f"Loaded {report.rows} declaration rows ({report.insured} insured, {report.affiliations} new affiliations)."
    )
