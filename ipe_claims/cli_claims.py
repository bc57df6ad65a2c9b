"""``ipe claims``: what a caseworker records on a claim from the command line."""

from __future__ import annotations

import uuid
from datetime import date
from typing import Annotated

import psycopg
import typer
from rich.console import Console

from ipe_claims.adapters import access_log
from ipe_claims.domain.lifecycle import InvalidReturnToWork

claims_app = typer.Typer(help="Claims: record what happens after the decision.", no_args_is_help=True)
console = Console(soft_wrap=True)


@claims_app.command("return-to-work")
def return_to_work(
    claim_id: uuid.UUID,
    return_date: Annotated[str, typer.Option("--date", help="The day the insured starts working again.")],
    declared_on: Annotated[str | None, typer.Option(help="When it was declared (default: today).")] = None,
) -> None:
    """Record a reprise d'activité: the benefit ends the day before the return."""
    from ipe_claims.cli import _database_url
    from ipe_claims.entrypoints.bootstrap import make_app
    from ipe_claims.settings import Settings

    try:
        returned = date.fromisoformat(return_date)
        settings = Settings.from_env().changed(database={"url": _database_url()})
        declared = date.fromisoformat(declared_on) if declared_on else settings.clock().today()
    except ValueError:
        console.print("[red]Dates are YYYY-MM-DD.[/red]")
        raise typer.Exit(2) from None
    store = make_app(settings)
    try:
        if claim_id not in store.repository:
            console.print(f"[red]No claim {claim_id}.[/red]")
            raise typer.Exit(1)
        who = access_log.operator()
        claim = store.record_return_to_work(
            claim_id, returned, declared, f"cli:{who.username}@{who.host}", settings.clock().now()
        )
        with psycopg.connect(_database_url(), autocommit=True) as conn:  # its figures follow: on record
            access_log.record(conn, who, "claim.return_to_work", [{"claim_id": claim.id, "affiliation_number":
                              claim.affiliation_number, "immatriculation": claim.immatriculation}])  # fmt: skip
    except InvalidReturnToWork as exc:
        console.print(f"[red]Refused: {exc}.[/red]")
        raise typer.Exit(1) from None
    finally:
        store.close()
    assert claim.returned is not None
    late = " (declared late)" if claim.returned.late_notice else ""
    console.print(
        f"Recorded: benefit ends {claim.returned.benefit_end}, {claim.returned.months_due} month(s) due{late}."
    )
