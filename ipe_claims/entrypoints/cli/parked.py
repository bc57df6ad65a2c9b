"""``ipe parked``: the records consumers could not handle, for auditors to list and replay once fixed
(docs/audit.md)."""

from __future__ import annotations

from typing import Annotated, Any

import typer
from rich.table import Table
from rich.text import Text

from ipe_claims.entrypoints.cli.context import (
    connect,
    console,
    fail,
    instance_settings,
    print_json,
    row,
    store,
    table,
)

app = typer.Typer(help="Records parked by the consumers (poison), and their replay.", no_args_is_help=True)


def parked_table(rows: list[dict[str, Any]]) -> Table:
    """The parked records as `ipe parked list` shows them; the reason wraps in its column, whole."""
    shown = table("id", "consumer", "topic[partition]@offset", "since", "reason", "state",
                  whole=("id", "since", "state"))  # fmt: skip
    for one in rows:
        row(shown, one["id"], one["consumer"], f"{one['topic']}[{one['partition']}]@{one['offset']}",
            one["recorded_at"][:19], one["last_error"] or one["reason"], one["disposition"])  # fmt: skip
    return shown


@app.command("list")
def list_parked(
    as_json: Annotated[bool, typer.Option("--json", help="Machine-readable output.")] = False,
    everything: Annotated[
        bool, typer.Option("--all", help="Also what intake refused and what was replayed.")
    ] = False,
) -> None:
    """The parked records, oldest first: consumer, coordinates, reason (never the raw bytes)."""
    from ipe_claims.adapters import parked

    with connect() as conn:
        rows = [record.summary() for record in parked.listed(conn, everything)]
    if as_json:
        print_json(rows)
        return
    if not rows:
        console.print("Nothing parked.")
        return
    console.print(parked_table(rows))


@app.command("replay")
def replay_parked(
    parked_id: Annotated[int | None, typer.Argument(help="The id `ipe parked list` shows.")] = None,
    every: Annotated[bool, typer.Option("--all", help="Every parked record, oldest first.")] = False,
) -> None:
    """Run the consumer's handler again on parked records; each one that succeeds leaves the list, each one
    that fails stays parked with its error. Exit 1 when any still fails."""
    import psycopg

    from ipe_claims.adapters import parked
    from ipe_claims.adapters.avro import AvroCodec
    from services.parked_handlers import consumer_handlers

    if (parked_id is None) == (not every):
        raise fail("Give one ID or --all.", 2)
    config = instance_settings()
    failed = 0
    with (
        store(config) as claims,
        consumer_handlers(config, claims, AvroCodec(config.schemas_dir)) as handlers,
        psycopg.connect(config.database.url, autocommit=True) as conn,
    ):
        ids = [parked_id] if parked_id is not None else [p.id for p in parked.listed(conn)]
        for one in ids:
            error = parked.replay(conn, one, handlers)
            if error is None:
                console.print(f"{one}: replayed")
            else:
                failed += 1
                console.print(Text(f"{one}: still parked: {error}", style="red"))
    if failed:
        raise typer.Exit(1)
