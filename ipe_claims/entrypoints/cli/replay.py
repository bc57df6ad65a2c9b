"""``ipe replay``: rebuild every read model from the event store (or Kafka), or check the live ones."""

from __future__ import annotations

from typing import Annotated, Any

import psycopg
import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

from ipe_claims.adapters import access_log
from ipe_claims.entrypoints.cli.context import console, fail, instance_settings, store

app = typer.Typer()


def _progress() -> Progress:
    speed = TextColumn("{task.fields[rate]} events/s")
    return Progress(
        TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), speed, TimeRemainingColumn(),
        console=console, transient=False,
    )  # fmt: skip


@app.command()
def replay(
    verify: Annotated[bool, typer.Option("--verify", help="Compare a rebuild with the live tables.")] = False,
    from_kafka: Annotated[
        bool, typer.Option("--from-kafka", help="Read ipe.claim-events, not the store.")
    ] = False,
) -> None:
    """Rebuild every read model from the event store (or Kafka) and swap it in, or --verify it."""
    from ipe_claims.adapters.avro import AvroCodec
    from ipe_claims.audit import replay as rebuild
    from ipe_claims.audit.kafka_source import expected_on_kafka, kafka_records

    config = instance_settings()
    with store(config) as claims, psycopg.connect(config.database.url, autocommit=True) as conn:
        if from_kafka:
            position, total = expected_on_kafka(conn)
            records: Any = kafka_records(config, AvroCodec(config.schemas_dir), total)
        else:
            position = rebuild.store_head(conn)
            total = rebuild.count_claim_events(conn, 0, position)
            records = rebuild.store_records(claims, 0, position)
        with _progress() as bar:
            task = bar.add_task("kafka" if from_kafka else "event store", total=total, rate="-")

            def advance(n: int) -> None:
                bar.advance(task, n)
                rate = bar.tasks[task].speed
                bar.update(task, rate=f"{rate:,.0f}" if rate else "-")

            try:
                result = rebuild.replay(
                    conn, claims, records, position=position, verify=verify, progress=advance
                )
            except rebuild.ReplayError as exc:
                raise fail(str(exc), 2) from None
        # A difference shows a claim's live and rebuilt columns (names, amounts): on record first.
        access_log.record(
            conn, access_log.operator(), "claims.replay_verify", [d.key for d in result.differences]
        )
    tables = ", ".join(rebuild.read_models())
    console.print(f"Replayed {result.applied} events (+{result.caught_up} appended meanwhile) into {tables}.")
    if result.swapped:
        console.print("The rebuilt tables are live.")
        return
    for difference in result.differences:
        console.print(difference.describe(), markup=False)
    if result.differences:
        console.print(f"[red]{len(result.differences)} difference(s) with the live tables.[/red]")
        raise typer.Exit(1)
    console.print("[green]No difference: the live read models equal a rebuild from the log.[/green]")
