"""Operators' commands: ``ipe backup FILE`` and ``ipe restore FILE`` (see docs/operations.md)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

console = Console(soft_wrap=True)


def _database_url() -> str:
    from ipe_claims.cli import _database_url as configured

    return configured()


KEY_ENV = "IPE_BACKUP_KEY_FILE"


def _key(path: Path | None) -> bytes | None:
    from ipe_claims.adapters.backup_crypto import KeyFileError, read_key

    try:
        return read_key(path) if path else None
    except KeyFileError as exc:
        console.print(f"[red]{exc}[/red]")
        raise typer.Exit(2) from None


def backup(
    path: Path,
    key_file: Annotated[
        Path | None,
        typer.Option(
            "--encrypt-key-file",
            envvar=KEY_ENV,
            help="Encrypt with this key (32 random bytes, base64; chmod 600).",
        ),
    ] = None,
) -> None:
    """Write the event store and every table a replay cannot rebuild to FILE (gzip, 0600), from one snapshot."""
    from ipe_claims.adapters.backup import BackupError, backup_file

    try:
        report = backup_file(_database_url(), path, _key(key_file))
    except (BackupError, OSError) as exc:
        console.print(f"[red]{exc}[/red]")
        raise typer.Exit(1) from None
    total = sum(report.tables.values())
    sealed = ", encrypted" if key_file else ""
    console.print(f"Backed up {total} rows of {len(report.tables)} tables to {path}{sealed} "
                  f"({report.tables.get('ipe_events', 0)} events).")  # fmt: skip
    if report.unclassified:
        console.print(
            f"[yellow]Also backed up, not yet classified: {', '.join(report.unclassified)}[/yellow]"
        )


def restore(
    path: Path,
    replace: Annotated[bool, typer.Option("--replace", help="Overwrite a store that holds events.")] = False,
    key_file: Annotated[
        Path | None,
        typer.Option(
            "--key-file",
            envvar=KEY_ENV,
            help="The key an encrypted backup was written with.",
        ),
    ] = None,
) -> None:
    """Load FILE into this (migrated) database; read models and positions start over from the store."""
    from ipe_claims.adapters.backup import BackupError, restore_file
    from ipe_claims.adapters.migrations import migrate
    from ipe_claims.entrypoints.bootstrap import make_app
    from ipe_claims.settings import Settings

    url = _database_url()
    migrate(url)
    make_app(
        Settings().changed(database={"url": url}, kafka={"bootstrap_servers": ""}), create_tables=True
    ).close()
    try:
        report = restore_file(url, path, replace=replace, key=_key(key_file))
    except (BackupError, OSError) as exc:
        console.print(f"[red]{exc}[/red] (nothing was restored)")
        raise typer.Exit(1) from None
    console.print(f"Restored {sum(report.tables.values())} rows of {len(report.tables)} tables "
                  f"({report.tables.get('ipe_events', 0)} events).")  # fmt: skip
    console.print("The relay re-publishes the store and the consumers rebuild the read models; "
                  "`ipe replay` rebuilds them at once.")  # fmt: skip


def register(app: typer.Typer) -> None:
    app.command("backup")(backup)
    app.command("restore")(restore)
