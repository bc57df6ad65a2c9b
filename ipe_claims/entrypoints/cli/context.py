"""What every command of ``ipe`` shares: its settings, its console, and how it fails or prints JSON.

The one place the CLI builds ``Settings``: from the environment, with the database and broker of the instance
``ipe up`` runs in ``$IPE_HOME`` (its state file) where the environment names none. Areas import this module
and the layers below, never each other nor the package that assembles them.
"""

from __future__ import annotations

import json
import os
from collections.abc import Collection, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import psycopg
import typer
from rich.console import Console
from rich.table import Column, Table
from rich.text import Text

from ipe_claims.application.claims import ClaimsApplication
from ipe_claims.operations.kafka_access import admin_env
from ipe_claims.operations.supervisor import read_state
from ipe_claims.settings import Settings

console = Console(soft_wrap=True)  # commands printed must stay copy-pasteable


def fail(message: str, code: int = 1) -> typer.Exit:
    """Print ``message`` in red (as text, never markup) and return the exit to raise."""
    console.print(Text(message, style="red"))
    return typer.Exit(code)


def _settings(env: dict[str, str]) -> Settings:
    try:
        return Settings.from_env(env)
    except ValueError as exc:  # a configuration refused (e.g. TLS required but not set)
        raise fail(f"Configuration refused: {exc}", 2) from None


def settings() -> Settings:
    """The environment's settings, as they are: for the clock, $IPE_HOME and the HTTP port."""
    return _settings(dict(os.environ))


def home() -> Path:
    """$IPE_HOME, where `ipe up` keeps its state, logs and data."""
    return settings().home


def database_url() -> str:
    """DATABASE_URL, or the local database of the instance running in $IPE_HOME."""
    config = settings()
    url = config.database.url or (read_state(config.home) or {}).get("database_url")
    if not url:
        raise fail("No database: set DATABASE_URL or start the system with `ipe up`.", 2)
    return str(url)


def instance_settings() -> Settings:
    """DATABASE_URL / KAFKA_*, or those of the instance `ipe up` runs in $IPE_HOME (its admin on Kafka)."""
    config, env = settings(), {**os.environ, "DATABASE_URL": database_url()}
    if not config.kafka.bootstrap_servers:  # the local broker, as its admin when it authenticates
        servers = (read_state(config.home) or {}).get("kafka_bootstrap_servers") or ""
        env |= {"KAFKA_BOOTSTRAP_SERVERS": servers} | admin_env(config.home)
    return _settings(env)


def connect(autocommit: bool = True) -> psycopg.Connection[Any]:
    """A connection to the database of ``database_url``."""
    return psycopg.connect(database_url(), autocommit=autocommit)


@contextmanager
def store(config: Settings) -> Iterator[ClaimsApplication]:
    """The event store of ``config``, closed on the way out."""
    from ipe_claims.adapters.event_store import make_app

    app = make_app(config)
    try:
        yield app
    finally:
        app.close()


def print_json(value: Any, indent: int | None = 2) -> None:
    """``value`` as JSON on stdout, for tools: plain print, no console styling or wrapping."""
    print(json.dumps(value, indent=indent, ensure_ascii=False, default=str))


def table(*headings: str, whole: Collection[str] = ()) -> Table:
    """A table readable at 80 columns: headings are text (``[x]`` stays), long cells wrap or fold, but those
    of the columns headed ``whole`` (short values: an id, an instant) never break."""
    return Table(
        *(Column(Text(h), no_wrap=True) if h in whole else Column(Text(h), overflow="fold") for h in headings)
    )


def row(shown: Table, *cells: object) -> None:
    """Add ``cells`` to ``shown`` as text (None as blank): data never reads as markup."""
    shown.add_row(*(Text("" if cell is None else str(cell)) for cell in cells))
