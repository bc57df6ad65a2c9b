"""``ipe parked``: the records consumers could not handle, for auditors to list and replay once fixed
(docs/audit.md)."""

from __future__ import annotations

import json
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

parked_app = typer.Typer(
    help="Records parked by the consumers (poison), and their replay.", no_args_is_help=True
)
console = Console(soft_wrap=True)


@parked_app.command("list")
def list_parked(
    as_json: Annotated[bool, typer.Option("--json", help="Machine-readable output.")] = False,
    everything: Annotated[
        bool, typer.Option("--all", help="Also what intake refused and what was replayed.")
    ] = False,
) -> None:
    """The parked records, oldest first: consumer, coordinates, reason (never the raw bytes)."""
    import psycopg

    from ipe_claims.adapters import parked
    from ipe_claims.cli import _database_url

    with psycopg.connect(_database_url(), autocommit=True) as conn:
        rows = [record.summary() for record in parked.listed(conn, everything)]
    if as_json:
        typer.echo(json.dumps(rows, ensure_ascii=False, indent=2))
        return
    if not rows:
        console.print("Nothing parked.")
        return
    table = Table("id", "consumer", "topic[partition]@offset", "since", "reason", "state")
    for row in rows:
        table.add_row(str(row["id"]), row["consumer"], f"{row['topic']}[{row['partition']}]@{row['offset']}",
                      row["recorded_at"][:19], row["last_error"] or row["reason"], row["disposition"])  # fmt: skip
    console.print(table)


@parked_app.command("replay")
def replay_parked(
    parked_id: Annotated[int | None, typer.Argument(help="The id `ipe parked list` shows.")] = None,
    every: Annotated[bool, typer.Option("--all", help="Every parked record, oldest first.")] = False,
) -> None:
    """Run the consumer's handler again on parked records; each one that succeeds leaves the list, each one
    that fails stays parked with its error. Exit 1 when any still fails."""
    import psycopg

    from ipe_claims.adapters import parked
    from ipe_claims.adapters.avro import AvroCodec
    from ipe_claims.cli_audit import settings, store
    from services.parked_handlers import consumer_handlers

    if (parked_id is None) == (not every):
        console.print("[red]Give one ID or --all.[/red]")
        raise typer.Exit(2)
    config = settings()
    failed = 0
    with (
        store(config) as app,
        consumer_handlers(config, app, AvroCodec(config.schemas_dir)) as handlers,
        psycopg.connect(config.database.url, autocommit=True) as conn,
    ):
        ids = [parked_id] if parked_id is not None else [p.id for p in parked.listed(conn)]
        for one in ids:
            error = parked.replay(conn, one, handlers)
            if error is None:
                console.print(f"{one}: replayed")
            else:
                failed += 1
                console.print(f"[red]{one}: still parked: {error}[/red]")
    if failed:
        raise typer.Exit(1)
