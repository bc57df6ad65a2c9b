"""Rebuild the read models from the log into fresh tables, then compare them with the live ones or swap.

The rebuild writes into a private schema of fresh (unlogged: scratch) copies of the read-model tables,
so the live tables are untouched until the swap. A page of events whose claims are born in it is folded
per claim into final ``claims`` rows (``fold.fold``, which mirrors ``projections.apply_claim_event``) and
written by ``COPY``; their payment and dossier events, and every event of the other claims, go through
``projections.apply_event`` (or the part of it the fold leaves), the function the live projector calls,
on a connection whose ``search_path`` puts the private schema first. The swap holds the
live tables in EXCLUSIVE mode (readers go on, writers wait), catches up on events appended meanwhile,
and replaces the rows that differ in one transaction, so a reader sees the old state or the new one,
never a mix.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

import psycopg
from psycopg import sql

from ipe_claims.adapters import projections
from ipe_claims.adapters.claim_messages import RecordDecoder
from ipe_claims.application.claims import CLAIM_TOPICS, ClaimsApplication
from ipe_claims.audit import fold
from ipe_claims.audit.store_source import claim_notifications

PAGE = 1000
Record = tuple[str, dict[str, Any]]
Progress = Callable[[int], None]
# The read models besides ``claims`` (their rows come from the statements even for a folded claim), and the
# events of a folded claim that still go through the statements for them.
_STATEMENT_TABLES = frozenset({"payments", "dossiers", "dossier_documents"})
_STATEMENT_EVENTS = frozenset(projections.PAYMENT_EVENTS + projections.DOSSIER_EVENTS)


def read_models() -> tuple[str, ...]:
    """The tables ``projections.apply_event`` writes (``projections.READ_MODELS``)."""
    return tuple(getattr(projections, "READ_MODELS", ("claims",)))


class ReplayError(RuntimeError):
    """The replay cannot go on; the message says why."""


def store_head(conn: psycopg.Connection[Any]) -> int:
    row = conn.execute("SELECT coalesce(max(notification_id), 0) FROM ipe_events").fetchone()
    return int(row[0]) if row else 0


def last_claim_position(conn: psycopg.Connection[Any]) -> int:
    """The notification id of the newest claim event (what the relay publishes up to)."""
    row = conn.execute(
        "SELECT coalesce(max(notification_id), 0) FROM ipe_events WHERE topic = ANY(%s)",
        (list(CLAIM_TOPICS),),
    ).fetchone()
    return int(row[0]) if row else 0


def count_claim_events(conn: psycopg.Connection[Any], after: int, up_to: int) -> int:
    row = conn.execute(
        "SELECT count(*) FROM ipe_events WHERE topic = ANY(%s) AND notification_id > %s "
        "AND notification_id <= %s",
        (list(CLAIM_TOPICS), after, up_to),
    ).fetchone()
    return int(row[0]) if row else 0


def store_records(app: ClaimsApplication, after: int, up_to: int) -> Iterator[tuple[int, Record]]:
    """Claim events of the store in global order, as the relay would publish them: (position, record)."""
    decoder = RecordDecoder(app)
    for page in claim_notifications(app, after, up_to):
        for notification in page:
            yield notification.id, decoder.record(notification)


@dataclass
class Difference:
    table: str
    key: dict[str, Any]
    kind: str  # "missing" (live only), "extra" (rebuild only) or "changed"
    columns: dict[str, tuple[Any, Any]] = field(default_factory=dict)  # column -> (live, rebuilt)

    def describe(self) -> str:
        key = ", ".join(f"{k}={v}" for k, v in self.key.items())
        if self.kind == "missing":
            return f"{self.table} [{key}]: in the live table, absent from the rebuild"
        if self.kind == "extra":
            return f"{self.table} [{key}]: in the rebuild, absent from the live table"
        changes = "; ".join(f"{c}: live {a!r} ≠ rebuilt {b!r}" for c, (a, b) in self.columns.items())
        return f"{self.table} [{key}]: {changes}"


class Shadow:
    """Fresh copies of the read-model tables in a private schema, filled by the live projections."""

    def __init__(self, conn: psycopg.Connection[Any], tables: tuple[str, ...]) -> None:
        self.conn = conn
        self.tables = tables
        self.schema = f"ipe_replay_{uuid.uuid4().hex[:12]}"
        self.position = 0  # the last store notification id applied (or its equivalent for Kafka)
        self.applied = 0
        self.foldable = False  # whether pages go through fold + COPY (see _can_fold)
        self.folded = 0  # rows written by fold + COPY

    def __enter__(self) -> Shadow:
        with self.conn.transaction():
            self.conn.execute(sql.SQL("CREATE SCHEMA {}").format(sql.Identifier(self.schema)))
            for table in self.tables:
                self.conn.execute(
                    sql.SQL("CREATE UNLOGGED TABLE {} (LIKE public.{} INCLUDING ALL)").format(
                        self._shadow(table), sql.Identifier(table)
                    )
                )
            self._drop_lookup_indexes()
            self.foldable = self._can_fold()
        self.conn.execute(sql.SQL("SET search_path TO {}, public").format(sql.Identifier(self.schema)))
        return self

    def _drop_lookup_indexes(self) -> None:
        """Nothing reads the fresh tables by their non-unique indexes (the comparison and the swap read
        them whole), so they need not be maintained row by row; unique ones stay, they are rules."""
        rows = self.conn.execute(
            "SELECT c.relname FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid "
            "JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = %s AND NOT i.indisunique",
            (self.schema,),
        ).fetchall()
        for (index,) in rows:
            self.conn.execute(
                sql.SQL("DROP INDEX {}.{}").format(sql.Identifier(self.schema), sql.Identifier(index))
            )

    def _can_fold(self) -> bool:
        """The fold mirrors apply_claim_event on the ``claims`` table as it is: use it only while that table
        has exactly the columns it writes, none of them with a default, and the other read models are those
        whose events _fold keeps for the statements (payments, the dossier's)."""
        if self.tables[:1] != (fold.TABLE,) or not set(self.tables[1:]) <= _STATEMENT_TABLES:
            return False
        rows = self.conn.execute(
            "SELECT column_name, column_default FROM information_schema.columns "
            "WHERE table_schema = 'public' AND table_name = %s",
            (fold.TABLE,),
        ).fetchall()
        return {name for name, _ in rows} == set(fold.COLUMNS) and all(default is None for _, default in rows)

    def __exit__(self, *exc: object) -> None:
        if self.conn.closed:
            return
        if self.conn.info.transaction_status != psycopg.pq.TransactionStatus.IDLE:
            self.conn.rollback()
        self.conn.execute("SET search_path TO public")
        self.conn.execute(sql.SQL("DROP SCHEMA IF EXISTS {} CASCADE").format(sql.Identifier(self.schema)))

    def _shadow(self, table: str) -> sql.Composed:
        return sql.SQL("{}.{}").format(sql.Identifier(self.schema), sql.Identifier(table))

    def apply(self, records: Iterable[tuple[int, Record]], progress: Progress | None = None) -> int:
        """Apply records in transactions of up to PAGE events; return how many were applied."""
        batch: list[tuple[int, Record]] = []
        count = 0
        for item in records:
            batch.append(item)
            if len(batch) >= PAGE:
                count += self._apply_batch(batch, progress)
                batch = []
        if batch:
            count += self._apply_batch(batch, progress)
        return count

    def _apply_batch(self, batch: list[tuple[int, Record]], progress: Progress | None) -> int:
        if not self.foldable:
            self._write([], batch)
        else:
            try:
                self._write(*self._fold(batch, look_up=False))
            except psycopg.errors.UniqueViolation:
                # A claim submitted in this page has its row already (an earlier apply() of this rebuild,
                # e.g. a catch-up overlapping it): the page rolled back; go again knowing which.
                self._write(*self._fold(batch, look_up=True))
        self.position = max(self.position, max(position for position, _ in batch))
        self.applied += len(batch)
        if progress:
            progress(len(batch))
        return len(batch)

    def _write(
        self, rows: list[fold.Row], rest: list[tuple[int, Record]], folded: frozenset[Any] = frozenset()
    ) -> None:
        """One transaction: the events by apply_event (only its payments and dossier part for the claims in
        ``folded``), then the folded ``claims`` rows by COPY. Statements first: a folded claim's dossier
        events then meet no ``claims`` row yet, as they would in the order of the log (a piece recorded for
        a claim without a dossier row opens it from its ``claims`` row: dossier_projection)."""
        with self.conn.transaction():
            if rest:
                # Pipeline mode sends the statements without waiting for each answer: a rebuild does not
                # need apply_claim_event's "did it change a row" (the live projector does).
                with self.conn.pipeline():
                    for _, (name, record) in rest:
                        if record.get("claim_id") not in folded:
                            projections.apply_event(self.conn, name, record)
                            continue
                        if name in projections.PAYMENT_EVENTS:
                            projections.apply_claim_event(self.conn, name, record)
                        projections.apply_dossier_event(self.conn, name, record)
            if rows:
                columns = sql.SQL(", ").join(sql.Identifier(c) for c in fold.COLUMNS)
                copy_sql = sql.SQL("COPY {} ({}) FROM STDIN").format(self._shadow(fold.TABLE), columns)
                with self.conn.cursor().copy(copy_sql) as copy:
                    for row in rows:
                        copy.write_row(tuple(row.values()))
        self.folded += len(rows)

    def _fold(
        self, batch: list[tuple[int, Record]], look_up: bool
    ) -> tuple[list[fold.Row], list[tuple[int, Record]], frozenset[Any]]:
        """Split a page: the final ``claims`` rows of the claims whose row this page creates (folded per
        claim, to COPY), the events left for the statements, in order (every event of the other claims;
        the payment and dossier events of the folded ones), and the folded claims.

        A claim's events stay in their order; claims are independent rows, so their relative order does
        not matter. A ClaimSubmitted whose row exists already is a no-op in SQL, so such a claim takes the
        statement path; ``look_up`` finds them. Without it, the COPY of their row fails on the primary
        key instead, and the caller looks up: within one pass over the store or Kafka a claim is
        submitted once, so that happens only where a second pass overlaps the first.
        """
        by_claim: dict[Any, list[Record]] = {}
        born: dict[str, Any] = {}  # str(claim id) -> claim id as in the records
        for _, item in batch:
            claim = item[1].get("claim_id")
            events = by_claim.get(claim)
            if events is None:
                by_claim[claim] = events = []
            events.append(item)
            if item[0] == fold.SUBMITTED:
                born[str(claim)] = claim
        if born and look_up:
            existing = self.conn.execute(
                sql.SQL("SELECT claim_id::text FROM {} WHERE claim_id = ANY(%s::uuid[])").format(
                    self._shadow(fold.TABLE)
                ),
                (list(born),),
            ).fetchall()
            for (claim,) in existing:
                born.pop(claim, None)
        rows = [row for claim in born.values() if (row := fold.fold(by_claim[claim])) is not None]
        folded = frozenset(born.values())
        rest = [item for item in batch
                if item[1][1].get("claim_id") not in folded or item[1][0] in _STATEMENT_EVENTS]  # fmt: skip
        return rows, rest, folded

    def differences(self, limit: int = 1000) -> list[Difference]:
        """Row-for-row comparison of every rebuilt table with its live counterpart."""
        found: list[Difference] = []
        for table in self.tables:
            found += self._table_differences(table, limit - len(found))
            if len(found) >= limit:
                break
        return found

    def _table_differences(self, table: str, limit: int) -> list[Difference]:
        keys = primary_key(self.conn, table)
        live, rebuilt = sql.SQL("public.{}").format(sql.Identifier(table)), self._shadow(table)
        only = sql.SQL("SELECT * FROM {} EXCEPT ALL SELECT * FROM {}")
        cursor = self.conn.cursor(row_factory=psycopg.rows.dict_row)
        live_rows = cursor.execute(only.format(live, rebuilt)).fetchall()
        new_rows = cursor.execute(only.format(rebuilt, live)).fetchall()

        def key_of(row: dict[str, Any]) -> tuple[Any, ...]:
            return tuple(row[k] for k in keys)

        rebuilt_by_key = {key_of(row): row for row in new_rows}
        found: list[Difference] = []
        for row in live_rows:
            other = rebuilt_by_key.pop(key_of(row), None)
            key = {k: row[k] for k in keys}
            if other is None:
                found.append(Difference(table, key, "missing"))
            else:
                columns = {c: (v, other[c]) for c, v in row.items() if other[c] != v}
                found.append(Difference(table, key, "changed", columns))
        found += [Difference(table, {k: row[k] for k in keys}, "extra") for row in rebuilt_by_key.values()]
        found.sort(key=lambda d: tuple(str(v) for v in d.key.values()))
        return found[:limit]

    def swap(self, catch_up: Callable[[int], Iterable[tuple[int, Record]]]) -> int:
        """Lock the live tables, apply what was appended since the rebuild, replace their rows.

        Return how many events the catch-up applied. One transaction: all tables change together.
        """
        with self.conn.transaction():
            for table in self.tables:
                self.conn.execute(
                    sql.SQL("LOCK TABLE public.{} IN EXCLUSIVE MODE").format(sql.Identifier(table))
                )
            caught_up = 0
            for position, (name, record) in catch_up(self.position):
                projections.apply_event(self.conn, name, record)
                self.position = max(self.position, position)
                caught_up += 1
            for table in self.tables:
                self._replace_rows(table)
        return caught_up

    def _replace_rows(self, table: str) -> None:
        """Make the live table equal its rebuild, writing only the rows that differ: a live row goes
        unless the rebuild has it identically (the comparison --verify makes), then the rebuild's rows
        come in but for those still there. An up-to-date read model is left untouched, without dead rows.

        ON CONFLICT DO NOTHING can only skip a row left in place: that row equals a rebuilt one, and the
        rebuild obeys the same unique indexes, so no other rebuilt row can collide with it.
        """
        live, rebuilt = sql.SQL("public.{}").format(sql.Identifier(table)), self._shadow(table)
        columns = sql.SQL(", ").join(sql.Identifier(c) for c in table_columns(self.conn, table))
        same_key = sql.SQL(" AND ").join(
            sql.SQL("r.{} = l.{}").format(sql.Identifier(k), sql.Identifier(k))
            for k in primary_key(self.conn, table)
        )
        self.conn.execute(
            sql.SQL(
                "DELETE FROM {} l WHERE NOT EXISTS (SELECT 1 FROM {} r WHERE {} AND ROW(r.*) IS NOT DISTINCT FROM ROW(l.*))"
            ).format(live, rebuilt, same_key)
        )
        self.conn.execute(
            sql.SQL("INSERT INTO {} ({}) SELECT {} FROM {} ON CONFLICT DO NOTHING").format(
                live, columns, columns, rebuilt
            )
        )


def primary_key(conn: psycopg.Connection[Any], table: str) -> list[str]:
    rows = conn.execute(
        "SELECT a.attname FROM pg_index i JOIN pg_attribute a ON a.attrelid = i.indrelid "
        "AND a.attnum = ANY(i.indkey) WHERE i.indrelid = %s::regclass AND i.indisprimary ORDER BY a.attnum",
        (f"public.{table}",),
    ).fetchall()
    if not rows:
        raise ReplayError(f"read model {table} has no primary key: rows cannot be compared")
    return [row[0] for row in rows]


def table_columns(conn: psycopg.Connection[Any], table: str) -> list[str]:
    rows = conn.execute(
        "SELECT column_name FROM information_schema.columns WHERE table_schema = 'public' "
        "AND table_name = %s ORDER BY ordinal_position",
        (table,),
    ).fetchall()
    return [row[0] for row in rows]


def snapshot(conn: psycopg.Connection[Any], table: str) -> list[tuple[Any, ...]]:
    """Every row of a live read model in primary-key order (to compare two rebuilds in tests)."""
    order = sql.SQL(", ").join(sql.Identifier(k) for k in primary_key(conn, table))
    query = sql.SQL("SELECT * FROM public.{} ORDER BY {}").format(sql.Identifier(table), order)
    return conn.execute(query).fetchall()


@dataclass
class ReplayResult:
    applied: int
    caught_up: int
    position: int
    differences: list[Difference]
    swapped: bool


def replay(
    conn: psycopg.Connection[Any],
    app: ClaimsApplication,
    records: Iterable[tuple[int, Record]],
    *,
    position: int,
    verify: bool,
    progress: Progress | None = None,
) -> ReplayResult:
    """Rebuild from ``records`` (which reach store position ``position``); then compare or swap.

    Before comparing, the rebuild catches up with the store to its head, as the swap does, so both
    sides have seen the same events when the live projector is up to date.
    """
    with Shadow(conn, read_models()) as shadow:
        applied = shadow.apply(records, progress)
        shadow.position = max(shadow.position, position)
        if verify:
            caught_up = shadow.apply(store_records(app, shadow.position, store_head(conn)))
            return ReplayResult(applied, caught_up, shadow.position, shadow.differences(), False)
        caught_up = shadow.swap(lambda after: store_records(app, after, store_head(conn)))
        return ReplayResult(applied, caught_up, shadow.position, [], True)
