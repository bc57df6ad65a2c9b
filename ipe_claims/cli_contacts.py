"""``ipe contacts load FILE.csv``: how to reach each insured (header immatriculation,email,mobile,language)."""

from __future__ import annotations

from pathlib import Path

import psycopg
import typer

contacts_app = typer.Typer(help="How to reach the insured (email, mobile, language).", no_args_is_help=True)


@contacts_app.command("load")
def contacts_load(path: Path) -> None:
    """Load a CSV (immatriculation,email,mobile,language); a row replaces the insured's contact."""
    from ipe_claims.adapters.contacts import ContactFileError, load, read_csv
    from ipe_claims.cli import _database_url, console

    try:
        contacts = read_csv(path)
    except (OSError, ContactFileError) as exc:
        console.print(f"[red]{exc}[/red] (nothing was loaded)")
        raise typer.Exit(1) from None
    with psycopg.connect(_database_url(), autocommit=True) as conn:
        count = load(conn, contacts)
    console.print(f"Loaded {count} contacts.")
