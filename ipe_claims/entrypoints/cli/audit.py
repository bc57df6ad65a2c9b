"""``ipe audit claim|seal|verify|access``: an auditor's view of the event store and of who read what."""

from __future__ import annotations

import json
import uuid
from typing import Annotated, Any

import psycopg
import typer
from psycopg.rows import dict_row

from ipe_claims.adapters import access_log
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

app = typer.Typer(help="Auditors' tools.", no_args_is_help=True)


@app.command()
def claim(
    claim_id: str, as_json: Annotated[bool, typer.Option("--json", help="Machine-readable output.")] = False
) -> None:
    """Every event of a claim in order: time, type, who caused it, payload, rule-set version."""
    from ipe_claims.audit.history import claim_history

    try:
        wanted = uuid.UUID(claim_id)
    except ValueError:
        raise fail(f"{claim_id!r} is not a claim id (a UUID).", 2) from None
    config = instance_settings()
    with store(config) as claims, psycopg.connect(config.database.url, autocommit=True) as conn:
        history = claim_history(claims, conn, wanted)
        if history is not None:  # names, CIN and amounts follow: on record before they are shown
            first = history["events"][0]["payload"] if history["events"] else {}
            access_log.record(conn, access_log.operator(), "claim.audit", [{
                "claim_id": wanted, "affiliation_number": history["affiliation_number"],
                "immatriculation": first.get("immatriculation")}])  # fmt: skip
    if history is None:
        raise fail(f"No claim {wanted} in the event store.")
    if as_json:
        print_json(history)
        return
    events = table("#", "time (UTC)", "type", "caused by", "rule set", "sealed", "payload")
    for entry in history["events"]:
        payload = json.dumps(entry["payload"], ensure_ascii=False, default=str)
        row(events, str(entry["version"]), entry["occurred_at"], entry["type"], entry["caused_by"],
            entry["ruleset_version"] or "", entry["sealed"], payload[:300])  # fmt: skip
    console.print(events)
    said = table("#", "what happened")  # a table of its own: sentences need the width
    for entry in history["events"]:
        row(said, str(entry["version"]), entry["summary"])
    console.print(said)
    notes = table("notification", "kind", "channel", "status", "recorded at")
    for note in history["notifications"]:
        row(notes, note["event_id"], note["kind"], note["channel"], note["status"], note["created_at"])
    console.print(notes)


@app.command()
def seal() -> None:
    """Seal the events appended since the last seal (hash chains and a global digest)."""
    from ipe_claims.audit.seal import seal as seal_events

    with connect() as conn:
        sealed = seal_events(conn)
    console.print(f"Sealed {sealed.events} event(s); global digest {sealed.digest} up to #{sealed.position}.")


@app.command()
def verify(
    expect: Annotated[
        str | None, typer.Option(help="A digest kept elsewhere, as `ipe audit seal` printed it.")
    ] = None,
) -> None:
    """Check every stream against its seals; report each altered, removed or inserted event."""
    from ipe_claims.audit.seal import verify as verify_seals

    with connect() as conn:
        report = verify_seals(conn, expect)
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


def access_rows(conn: psycopg.Connection[Any], account: str | None, claim: uuid.UUID | None,
                limit: int) -> list[dict[str, Any]]:  # fmt: skip
    """The access log's entries by ``account`` and/or of ``claim``, newest first."""
    return (
        conn.cursor(row_factory=dict_row)
        .execute(
            "SELECT at, username, role, host, action, claim_id, affiliation_number, immatriculation, request_id "
            "FROM access_log WHERE (%(account)s::text IS NULL OR username = %(account)s) "
            "AND (%(claim)s::uuid IS NULL OR claim_id = %(claim)s) ORDER BY at DESC, id DESC LIMIT %(limit)s",
            {"account": account, "claim": claim, "limit": limit},
        )
        .fetchall()
    )


@app.command()
def access(
    account: Annotated[str | None, typer.Option(help="Reads by this account.")] = None,
    claim: Annotated[str | None, typer.Option(help="Reads of this claim.")] = None,
    limit: Annotated[int, typer.Option(min=1)] = 200,
    as_json: Annotated[bool, typer.Option("--json", help="One JSON object per line.")] = False,
) -> None:
    """Who read which personal data, and when, newest first: by --account, by --claim, or both."""
    if account is None and claim is None:
        raise fail("Give --account or --claim.", 2)
    try:
        claim_id = uuid.UUID(claim) if claim else None
    except ValueError:
        raise fail(f"{claim!r} is not a claim id.", 2) from None
    with connect() as conn:
        rows = access_rows(conn, account, claim_id, limit)
        # The log names insured people (immatriculations): reading it is a read like any other.
        shown = {(r["claim_id"], r["affiliation_number"], r["immatriculation"]) for r in rows}
        access_log.record(conn, access_log.operator(), "access_log.read", [
            {"claim_id": c, "affiliation_number": a, "immatriculation": i} for c, a, i in sorted(shown, key=str)])  # fmt: skip
    if as_json:
        for entry in rows:
            print_json(entry, indent=None)
        return
    reads = table("at", "account", "role", "host", "action", "claim", "affiliation", "immatriculation",
                  "request id")  # fmt: skip
    for entry in rows:
        row(reads, *("" if entry[k] is None else str(entry[k]) for k in (
            "at", "username", "role", "host", "action", "claim_id", "affiliation_number", "immatriculation",
            "request_id")))  # fmt: skip
    console.print(reads)
    console.print(f"{len(rows)} read(s).")
