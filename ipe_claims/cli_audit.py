"""Auditors' commands: replay of the read models, claim history, seal/verify, re-publication."""

from __future__ import annotations

import json
import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Annotated, Any

import psycopg
import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

from ipe_claims.adapters import access_log
from ipe_claims.operations.supervisor import read_state
from ipe_claims.settings import Settings

relay_app = typer.Typer(help="The outbox relay.", no_args_is_help=True)
console = Console(soft_wrap=True)


def settings() -> Settings:
    """DATABASE_URL / KAFKA_*, or those of the instance `ipe up` runs in $IPE_HOME (its admin on Kafka)."""
    from ipe_claims.cli import _database_url, _home
    from ipe_claims.operations.kafka_access import admin_env

    if os.environ.get("KAFKA_BOOTSTRAP_SERVERS"):
        kafka = {"KAFKA_BOOTSTRAP_SERVERS": os.environ["KAFKA_BOOTSTRAP_SERVERS"]}
    else:  # the local instance's broker, as its admin principal when it authenticates
        state = read_state(_home()) or {}
        kafka = {"KAFKA_BOOTSTRAP_SERVERS": state.get("kafka_bootstrap_servers") or ""} | admin_env(_home())
    return Settings.from_env({**os.environ, "DATABASE_URL": _database_url(), **kafka})


@contextmanager
def store(config: Settings) -> Iterator[Any]:
    from ipe_claims.entrypoints.bootstrap import make_app

    app = make_app(config)
    try:
        yield app
    finally:
        app.close()


def _progress() -> Progress:
    speed = TextColumn("{task.fields[rate]} events/s")
    return Progress(
        TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), speed, TimeRemainingColumn(),
        console=console, transient=False,
    )  # fmt: skip


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

    config = settings()
    with store(config) as app, psycopg.connect(config.database.url, autocommit=True) as conn:
        if from_kafka:
            position, total = expected_on_kafka(conn)
            records: Any = kafka_records(config, AvroCodec(config.schemas_dir), total)
        else:
            position = rebuild.store_head(conn)
            total = rebuild.count_claim_events(conn, 0, position)
            records = rebuild.store_records(app, 0, position)
        with _progress() as bar:
            task = bar.add_task("kafka" if from_kafka else "event store", total=total, rate="-")

            def advance(n: int) -> None:
                bar.advance(task, n)
                rate = bar.tasks[task].speed
                bar.update(task, rate=f"{rate:,.0f}" if rate else "-")

            try:
                result = rebuild.replay(
                    conn, app, records, position=position, verify=verify, progress=advance
                )
            except rebuild.ReplayError as exc:
                console.print(f"[red]{exc}[/red]")
                raise typer.Exit(2) from None
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


def audit_claim(
    claim_id: str, as_json: Annotated[bool, typer.Option("--json", help="Machine-readable output.")] = False
) -> None:
    """Every event of a claim in order: time, type, who caused it, payload, rule-set version."""
    from rich.table import Table

    from ipe_claims.audit.history import claim_history

    try:
        wanted = uuid.UUID(claim_id)
    except ValueError:
        console.print(f"[red]{claim_id!r} is not a claim id (a UUID).[/red]")
        raise typer.Exit(2) from None
    config = settings()
    with store(config) as app, psycopg.connect(config.database.url, autocommit=True) as conn:
        history = claim_history(app, conn, wanted)
        if history is not None:  # names, CIN and amounts follow: on record before they are shown
            first = history["events"][0]["payload"] if history["events"] else {}
            access_log.record(conn, access_log.operator(), "claim.audit", [{
                "claim_id": wanted, "affiliation_number": history["affiliation_number"],
                "immatriculation": first.get("immatriculation")}])  # fmt: skip
    if history is None:
        console.print(f"[red]No claim {wanted} in the event store.[/red]")
        raise typer.Exit(1)
    if as_json:
        print(json.dumps(history, indent=2, ensure_ascii=False, default=str))
        return
    table = Table("#", "time (UTC)", "type", "caused by", "rule set", "sealed", "payload")
    for entry in history["events"]:
        payload = json.dumps(entry["payload"], ensure_ascii=False, default=str)
        table.add_row(str(entry["version"]), entry["occurred_at"], entry["type"], entry["caused_by"],
                      entry["ruleset_version"] or "", entry["sealed"], payload[:300])  # fmt: skip
    console.print(table)
    notes = Table("notification", "kind", "channel", "status", "recorded at")
    for note in history["notifications"]:
        notes.add_row(note["event_id"], note["kind"], note["channel"], note["status"], note["created_at"])
    console.print(notes)


def audit_seal() -> None:
    """Seal the events appended since the last seal (hash chains and a global digest)."""
    from ipe_claims.audit.seal import seal

    with psycopg.connect(settings().database.url, autocommit=True) as conn:
        sealed = seal(conn)
    console.print(f"Sealed {sealed.events} event(s); global digest {sealed.digest} up to #{sealed.position}.")


def audit_verify(
    expect: Annotated[
        str | None, typer.Option(help="A digest kept elsewhere, as `ipe audit seal` printed it.")
    ] = None,
) -> None:
    """Check every stream against its seals; report each altered, removed or inserted event."""
    from ipe_claims.audit.seal import verify

    with psycopg.connect(settings().database.url, autocommit=True) as conn:
        report = verify(conn, expect)
    for finding in report.findings:
        console.print(finding.describe(), markup=False)
    console.print(
        f"{report.checked} sealed event(s) checked, {report.unsealed} not sealed yet; digest {report.digest}."
    )
    events = [finding for finding in report.findings if finding.stream is not None]
    if events:
        console.print(f"[red]{len(events)} tampered event(s).[/red]")
    if any(finding.kind == "digest-mismatch" for finding in report.findings):
        console.print("[red]The chain of global digests is broken: seals were rewritten.[/red]")
    if any(finding.kind == "digest-unknown" for finding in report.findings):
        console.print("[red]The digest given with --expect was never part of this history: it was mistyped, "
                      "or the history it sealed was rewritten.[/red]")  # fmt: skip
    if report.findings:
        raise typer.Exit(1)
    console.print("[green]No event was altered, removed or inserted.[/green]")


@relay_app.command("republish")
def relay_republish(
    from_position: Annotated[
        int, typer.Option("--from", min=0, help="Re-publish events after this notification id.")
    ] = 0,
) -> None:
    """Make the running relay re-publish the store's claim events (after a broker lost its data)."""
    from ipe_claims.audit.republish import republish

    with psycopg.connect(settings().database.url, autocommit=True) as conn:
        before = republish(conn, from_position)
    if from_position >= before:
        console.print(f"The relay is at #{before}: it has not published beyond #{from_position} yet.")
        return
    console.print(
        f"Relay position moved from #{before} to #{from_position}: the relay re-publishes what follows. "
        "Consumers recognise the event ids, so nothing takes effect twice."
    )


def register(app: typer.Typer, audit_app: typer.Typer) -> None:
    """This area's commands, registered once from cli.py."""
    audit_app.command("claim")(audit_claim)
    audit_app.command("seal")(audit_seal)
    audit_app.command("verify")(audit_verify)
    app.command("replay")(replay)
    app.add_typer(relay_app, name="relay")
