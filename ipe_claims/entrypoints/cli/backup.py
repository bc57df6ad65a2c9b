"""``ipe backup FILE`` and ``ipe restore FILE``: what a replay cannot rebuild, kept (docs/operations.md)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from ipe_claims.entrypoints.cli.context import console, database_url, fail, instance_settings

app = typer.Typer()
KEY_ENV = "IPE_BACKUP_KEY_FILE"


def _key(path: Path | None) -> bytes | None:
    from ipe_claims.adapters.backup_crypto import KeyFileError, read_key

    try:
        return read_key(path) if path else None
    except KeyFileError as exc:
        raise fail(str(exc), 2) from None


@app.command()
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
        report = backup_file(database_url(), path, _key(key_file))
    except (BackupError, OSError) as exc:
        raise fail(str(exc)) from None
    total = sum(report.tables.values())
    sealed = ", encrypted" if key_file else ""
    console.print(f"Backed up {total} rows of {len(report.tables)} tables to {path}{sealed} "
                  f"({report.tables.get('ipe_events', 0)} events).")  # fmt: skip
    if report.unclassified:
        console.print(
            f"[yellow]Also backed up, not yet classified: {', '.join(report.unclassified)}[/yellow]"
        )


@app.command()
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
    from ipe_claims.adapters.event_store import make_app
    from ipe_claims.adapters.migrations import migrate

    config = instance_settings()
    url = config.database.url
    migrate(url)
    make_app(config, create_tables=True).close()
    try:
        report = restore_file(url, path, replace=replace, key=_key(key_file))
    except (BackupError, OSError) as exc:
        raise fail(f"{exc} (nothing was restored)") from None
    console.print(f"Restored {sum(report.tables.values())} rows of {len(report.tables)} tables "
                  f"({report.tables.get('ipe_events', 0)} events).")  # fmt: skip
    console.print("The relay re-publishes the store and the consumers rebuild the read models; "
                  "`ipe replay` rebuilds them at once.")  # fmt: skip
