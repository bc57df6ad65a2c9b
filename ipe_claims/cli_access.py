"""``ipe audit access --account U | --claim ID``: who read which personal data, when (the access log)."""

from __future__ import annotations

import json
import uuid
from typing import Annotated, Any

import psycopg
import typer
from psycopg.rows import dict_row
from rich.console import Console
from rich.table import Table

from ipe_claims.adapters import access_log

console = Console(soft_wrap=True)


def access_rows(conn: psycopg.Connection[Any], account: str | None, claim: uuid.UUID | None,
                limit: int) -> list[dict[str, Any]]:  # fmt: skip
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


def audit_access(
    account: Annotated[str | None, typer.Option(help="Reads by this account.")] = None,
    claim: Annotated[str | None, typer.Option(help="Reads of this claim.")] = None,
    limit: Annotated[int, typer.Option(min=1)] = 200,
    as_json: Annotated[bool, typer.Option("--json", help="One JSON object per line.")] = False,
) -> None:
    """Who read which personal data, and when, newest first: by --account, by --claim, or both."""
    from ipe_claims.cli import _database_url

    if account is None and claim is None:
        console.print("[red]Give --account or --claim.[/red]")
        raise typer.Exit(2)
    try:
        claim_id = uuid.UUID(claim) if claim else None
    except ValueError:
        console.print(f"[red]{claim!r} is not a claim id.[/red]")
        raise typer.Exit(2) from None
    with psycopg.connect(_database_url(), autocommit=True) as conn:
        rows = access_rows(conn, account, claim_id, limit)
        # The log names insured people (immatriculations): reading it is a read like any other.
        shown = {(r["claim_id"], r["affiliation_number"], r["immatriculation"]) for r in rows}
        access_log.record(conn, access_log.operator(), "access_log.read", [
            {"claim_id": c, "affiliation_number": a, "immatriculation": i} for c, a, i in sorted(shown, key=str)])  # fmt: skip
    if as_json:
        for row in rows:
            print(json.dumps(row, default=str, ensure_ascii=False))
        return
    table = Table(
        "at", "account", "role", "host", "action", "claim", "affiliation", "immatriculation", "request id"
    )
    for row in rows:
        table.add_row(*("" if row[k] is None else str(row[k]) for k in (
            "at", "username", "role", "host", "action", "claim_id", "affiliation_number", "immatriculation",
            "request_id")))  # fmt: skip
    console.print(table)
    console.print(f"{len(rows)} read(s).")
