"""``ipe contacts load FILE.csv``: how to reach each insured (header immatriculation,email,mobile,language)."""

from __future__ import annotations

from pathlib import Path

import typer

from ipe_claims.entrypoints.cli.context import connect, console, fail

app = typer.Typer(help="How to reach the insured (email, mobile, language).", no_args_is_help=True)


@app.command()
def load(path: Path) -> None:
    """Load a CSV (immatriculation,email,mobile,language); a row replaces the insured's contact."""
    from ipe_claims.adapters import contacts

    try:
        rows = contacts.read_csv(path)
    except (OSError, contacts.ContactFileError) as exc:
        raise fail(f"{exc} (nothing was loaded)") from None
    with connect() as conn:
        count = contacts.load(conn, rows)
    console.print(f"Loaded {count} contacts.")
