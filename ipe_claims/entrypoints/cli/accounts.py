"""``ipe accounts create|list|disable|enable|reset``: the admin's account tools."""

from __future__ import annotations

from typing import Annotated

import typer

from ipe_claims.adapters.accounts import (
    AccountError,
    create_account,
    list_accounts,
    reset_password,
    set_disabled,
)
from ipe_claims.entrypoints.cli.context import connect, console, fail, row, table

app = typer.Typer(help="Portal accounts.", no_args_is_help=True)


@app.command()
def create(
    username: Annotated[str, typer.Option()],
    password: Annotated[str, typer.Option()],
    role: Annotated[str, typer.Option()] = "employer",
    affiliation: Annotated[list[str] | None, typer.Option()] = None,
    agency: Annotated[str | None, typer.Option(help="An agent's agency code (role agent only).")] = None,
) -> None:
    """Create an account; an employer account needs one --affiliation or more (a compte groupe), an agent
    account its --agency."""
    with connect() as conn:
        try:
            create_account(conn, username, password, role, affiliation or [], agency)
        except AccountError as exc:
            raise fail(str(exc)) from None
    console.print(f"Account {username} ({role}) created.")


@app.command("list")
def list_() -> None:
    """Every account with its role, affiliations, and whether it is disabled or locked."""
    with connect() as conn:
        rows = list_accounts(conn)
    shown = table("username", "role", "affiliations", "state")
    for account in rows:
        state = (
            "disabled"
            if account.disabled
            else (f"locked until {account.locked_until:%H:%M:%S}" if account.locked_until else "enabled")
        )
        row(shown, account.username, account.role, " ".join(account.affiliations) or "-", state)
    console.print(shown)


@app.command()
def disable(username: Annotated[str, typer.Option()]) -> None:
    """Disable an account and revoke its tokens at once."""
    with connect() as conn:
        try:
            set_disabled(conn, username, True)
        except AccountError as exc:
            raise fail(str(exc)) from None
    console.print(f"Account {username} disabled; its tokens are revoked.")


@app.command()
def enable(username: Annotated[str, typer.Option()]) -> None:
    """Enable a disabled account again."""
    with connect() as conn:
        try:
            set_disabled(conn, username, False)
        except AccountError as exc:
            raise fail(str(exc)) from None
    console.print(f"Account {username} enabled.")


@app.command()
def reset(username: Annotated[str, typer.Option()], password: Annotated[str, typer.Option()]) -> None:
    """Set a new password, lift a login lock, revoke the account's tokens."""
    with connect() as conn:
        try:
            reset_password(conn, username, password)
        except AccountError as exc:
            raise fail(str(exc)) from None
    console.print(f"Account {username}: new password set, lock lifted, tokens revoked.")
