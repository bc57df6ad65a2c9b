"""``ipe relay republish``: make the running outbox relay publish the store's claim events again."""

from __future__ import annotations

from typing import Annotated

import typer

from ipe_claims.entrypoints.cli.context import connect, console

app = typer.Typer(help="The outbox relay.", no_args_is_help=True)


@app.command()
def republish(
    from_position: Annotated[
        int, typer.Option("--from", min=0, help="Re-publish events after this notification id.")
    ] = 0,
) -> None:
    """Make the running relay re-publish the store's claim events (after a broker lost its data)."""
    from ipe_claims.audit.republish import republish as move_relay

    with connect() as conn:
        before = move_relay(conn, from_position)
    if from_position >= before:
        console.print(f"The relay is at #{before}: it has not published beyond #{from_position} yet.")
        return
    console.print(
        f"Relay position moved from #{before} to #{from_position}: the relay re-publishes what follows. "
        "Consumers recognise the event ids, so nothing takes effect twice."
    )
