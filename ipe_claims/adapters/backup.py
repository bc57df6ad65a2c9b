"""Logical backup and restore of what cannot be rebuilt: the event store and the facts kept beside it.

What is in a backup, and why (docs/operations.md):

- ``BACKED_UP``: the event store, and tables that record facts no replay can recreate: accounts, the
  reference data (affiliations, insured, declarations, contacts), what was said or sent to insured
  people (notifications, deliveries, and the store position of the delivery projection, which counts
  in the store's own notification ids), dead letters (the original bytes of bad input), the audit
  seals and the access log.
- ``REBUILT``: read models. A restore empties them; the relay then re-publishes the whole store and
  the consumers rebuild them (or ``ipe replay`` does it at once).
- ``SESSION``: positions in a broker's log (meaningless against another broker), tokens and the portal's
  sessions, rate and login counters. A restore empties them: every user logs in again, every consumer starts over.

A table in none of the lists is backed up too (losing data is worse than keeping a table too many).

The file (0600) is gzip, optionally encrypted with the operator's key (``backup_crypto``): a JSON header line, then per table a JSON line and its rows in COPY text format,
ended by ``\\.``. The backup reads one REPEATABLE READ snapshot, so the tables agree with each other.
"""

from __future__ import annotations

import gzip
import io
import json
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from io import BufferedIOBase
from pathlib import Path
from typing import IO, Any

import psycopg
from psycopg import sql

from ipe_claims.adapters.backup_crypto import (
    CHUNK,
    DecryptError,
    DecryptingReader,
    EncryptingWriter,
    is_encrypted,
    private_file,
)
from ipe_claims.adapters.projections import READ_MODELS

FORMAT = "ipe-backup/1"
STORE = "ipe_events"
BACKED_UP = (STORE, "accounts", "account_affiliations", "affiliations", "insured", "declarations", "contacts",
             "notifications", "deliveries", "delivery_projection_positions", "dead_letters",
             "audit_event_seals", "audit_digests", "access_log", "analytics_policy")  # fmt: skip
REBUILT = READ_MODELS  # what projections.apply_event writes: the projector and `ipe replay` rebuild them
SESSION = ("consumer_positions", "relay_positions", "api_tokens", "portal_sessions", "rate_windows",
           "login_failures", "schema_migrations")  # fmt: skip
END = b"\\.\n"


class BackupError(RuntimeError):
    """The backup cannot be written or restored; the message says why."""


@dataclass(frozen=True)
class Report:
    tables: dict[str, int]  # table -> rows
    unclassified: tuple[str, ...]


def _tables(conn: psycopg.Connection[Any]) -> list[str]:
    rows = conn.execute(
        "SELECT table_name FROM information_schema.tables WHERE table_schema = current_schema() "
        "AND table_type = 'BASE TABLE' ORDER BY table_name"
    ).fetchall()
    return [row[0] for row in rows]


def _columns(conn: psycopg.Connection[Any], table: str) -> list[str]:
    rows = conn.execute(
        "SELECT column_name FROM information_schema.columns WHERE table_schema = current_schema() "
        "AND table_name = %s ORDER BY ordinal_position",
        (table,),
    ).fetchall()
    return [row[0] for row in rows]


def _in_dependency_order(conn: psycopg.Connection[Any], tables: Iterable[str]) -> list[str]:
    """Referenced tables before the tables that reference them (foreign keys hold during COPY)."""
    wanted = set(tables)
    edges = conn.execute(
        "SELECT c.conrelid::regclass::text, c.confrelid::regclass::text FROM pg_constraint c "
        "WHERE c.contype = 'f' AND c.connamespace = current_schema()::regnamespace"
    ).fetchall()
    needs = {table: {ref for child, ref in edges if child == table and ref in wanted and ref != table}
             for table in wanted}  # fmt: skip
    ordered: list[str] = []
    while needs:
        ready = sorted(table for table, refs in needs.items() if refs <= set(ordered))
        if not ready:
            raise BackupError(f"circular foreign keys among {sorted(needs)}")
        ordered += ready
        for table in ready:
            del needs[table]
    return ordered


def backup(database_url: str, out: BufferedIOBase) -> Report:
    with psycopg.connect(database_url) as conn:
        conn.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ READ ONLY")
        present = _tables(conn)
        if STORE not in present:
            raise BackupError(f"no event store table {STORE} in this database")
        # In foreign-key order, so a restore streams each table straight in.
        chosen = _in_dependency_order(conn, [t for t in present if t not in REBUILT and t not in SESSION])
        unclassified = tuple(t for t in chosen if t not in BACKED_UP)
        migrations = [r[0] for r in conn.execute("SELECT name FROM schema_migrations ORDER BY name")]
        header = {"format": FORMAT, "created_at": datetime.now(UTC).isoformat(), "migrations": migrations,
                  "tables": chosen}  # fmt: skip
        out.write(json.dumps(header).encode() + b"\n")
        counts: dict[str, int] = {}
        for table in chosen:
            columns = _columns(conn, table)
            out.write(json.dumps({"table": table, "columns": columns}).encode() + b"\n")
            query = sql.SQL("COPY {} ({}) TO STDOUT").format(
                sql.Identifier(table), sql.SQL(", ").join(map(sql.Identifier, columns))
            )
            rows = 0
            with conn.cursor().copy(query) as copy:
                for block in copy:
                    out.write(bytes(block))
                    rows += bytes(block).count(b"\n")
            out.write(END)
            counts[table] = rows
    return Report(counts, unclassified)


def backup_file(database_url: str, path: Path, key: bytes | None = None) -> Report:
    """The backup in ``path``, readable by its owner alone (0600), encrypted when a ``key`` is given."""
    partial = path.with_name(path.name + ".partial")
    with private_file(partial) as raw:
        sink = EncryptingWriter(raw, key) if key else raw
        with gzip.GzipFile(fileobj=sink, mode="wb") as out:
            report = backup(database_url, out)
        sink.close()  # an encrypted file's last chunk is sealed here
    partial.replace(path)  # a backup file is whole or absent
    return report


def restore_file(database_url: str, path: Path, replace: bool = False, key: bytes | None = None) -> Report:
    """Load a backup into a migrated database, in one transaction; refuses a non-empty store unless
    ``replace``. Read models and session tables are emptied, so everything downstream starts over.
    An encrypted backup needs its ``key``; one that does not decrypt whole restores nothing."""
    encrypted = is_encrypted(path)
    if encrypted and key is None:
        raise BackupError(f"{path} is encrypted: give its key (--key-file or IPE_BACKUP_KEY_FILE)")
    with path.open("rb") as raw:
        source = io.BufferedReader(DecryptingReader(raw, key), CHUNK) if encrypted and key else raw
        try:
            return _restore(database_url, path, source, replace)
        except DecryptError as exc:
            raise BackupError(f"{path}: {exc} (nothing was restored)") from None


def _restore(database_url: str, path: Path, source: IO[bytes], replace: bool) -> Report:
    with gzip.GzipFile(fileobj=source, mode="rb") as data, psycopg.connect(database_url) as conn:
        header = json.loads(data.readline() or b"{}")
        if header.get("format") != FORMAT:
            raise BackupError(f"{path} is not an {FORMAT} file")
        applied = {r[0] for r in conn.execute("SELECT name FROM schema_migrations")}
        missing = sorted(set(header["migrations"]) - applied)
        if missing:
            raise BackupError(f"this database lacks migrations {missing}: upgrade it first (ipe up)")
        present = set(_tables(conn))
        absent = sorted(set(header["tables"]) - present)
        if absent:
            raise BackupError(f"this database has no tables {absent}")
        stored = conn.execute(sql.SQL("SELECT count(*) FROM {}").format(sql.Identifier(STORE))).fetchone()
        if stored and stored[0] and not replace:
            raise BackupError(
                f"the event store already holds {stored[0]} events (use --replace to overwrite)"
            )
        emptied = sorted(
            present & (set(header["tables"]) | set(REBUILT) | set(SESSION) - {"schema_migrations"})
        )
        conn.execute(sql.SQL("TRUNCATE {} CASCADE").format(sql.SQL(", ").join(map(sql.Identifier, emptied))))
        counts = {}
        while line := data.readline():
            try:
                section = json.loads(line)
                table = section["table"]
            except (ValueError, KeyError, TypeError):
                raise BackupError(f"{path} is damaged or truncated (a table header is unreadable)") from None
            query = sql.SQL("COPY {} ({}) FROM STDIN").format(
                sql.Identifier(table), sql.SQL(", ").join(map(sql.Identifier, section["columns"]))
            )
            rows = 0
            with conn.cursor().copy(query) as copy:
                while (row := data.readline()) != END:
                    if not row:
                        raise BackupError(f"the backup ends inside table {table} (truncated file)")
                    copy.write(row)
                    rows += 1
            counts[table] = rows
            _reset_sequences(conn, table)
        if set(counts) != set(header["tables"]):
            raise BackupError(
                f"{path} is truncated: tables {sorted(set(header['tables']) - set(counts))} are missing"
            )
        conn.commit()
    return Report(counts, tuple(t for t in counts if t not in BACKED_UP))


def _reset_sequences(conn: psycopg.Connection[Any], table: str) -> None:
    """Serial columns (the store's notification_id) go on after the restored rows."""
    for column in _columns(conn, table):
        seq = conn.execute("SELECT pg_get_serial_sequence(%s, %s)", (table, column)).fetchone()
        if seq and seq[0]:
            conn.execute(
                sql.SQL("SELECT setval(%s, coalesce((SELECT max({}) FROM {}), 0) + 1, false)").format(
                    sql.Identifier(column), sql.Identifier(table)
                ),
                (seq[0],),
            )
