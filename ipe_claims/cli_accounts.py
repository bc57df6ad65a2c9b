"""``ipe accounts list|disable|enable|reset`` (``create`` is in cli.py): the admin's account tools."""

from __future__ import annotations

from typing import Annotated, Any

import psycopg
import typer
from rich.console import Console
from rich.table import Table

from ipe_claims.adapters.accounts import AccountError, list_accounts, reset_password, set_disabled

console = Console(soft_wrap=True)


def _connect() -> psycopg.Connection[Any]:
    from ipe_claims.cli import _database_url

    return psycopg.connect(_database_url(), autocommit=True)


def _fail(exc: AccountError) -> typer.Exit:
    console.print(f"[red]{exc}[/red]")
    return typer.Exit(1)


def accounts_list() -> None:
    """Every account with its role, affiliations, and whether it is disabled or locked."""
    with _connect() as conn:
        rows = list_accounts(conn)
    table = Table("username", "role", "affiliations", "state")
    for row in rows:
        state = (
            "disabled"
            if row.disabled
            else (f"locked until {row.locked_until:%H:%M:%S}" if row.locked_until else "enabled")
        )
        table.add_row(row.username, row.role, " ".join(row.affiliations) or "-", state)
    console.print(table)


def accounts_disable(username: Annotated[str, typer.Option()]) -> None:
    """Disable an account and revoke its tokens at once."""
    with _connect() as conn:
        try:
            set_disabled(conn, username, True)
        except AccountError as exc:
            raise _fail(exc) from None
    console.print(f"Account {username} disabled; its tokens are revoked.")


def accounts_enable(username: Annotated[str, typer.Option()]) -> None:
    """Enable a disabled account again."""
    with _connect() as conn:
        try:
            set_disabled(conn, username, False)
        except AccountError as exc:
            raise _fail(exc) from None
    console.print(f"Account {username} enabled.")


def accounts_reset(
    username: Annotated[str, typer.Option()], password: Annotated[str, typer.Option()]
) -> None:
    """Set a new password, lift a login lock, revoke the account's tokens."""
    with _connect() as conn:
        try:
            reset_password(conn, username, password)
        except AccountError as exc:
            raise _fail(exc) from None
    console.print(f"Account {username}: new password set, lock lifted, tokens revoked.")


def register(accounts_app: typer.Typer) -> None:
    accounts_app.command("list")(accounts_list)
    accounts_app.command("disable")(accounts_disable)
    accounts_app.command("enable")(accounts_enable)
    accounts_app.command("reset")(accounts_reset)
