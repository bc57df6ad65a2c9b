"""The contribution history in Postgres: bulk CSV load and the query the rules read."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

import psycopg
from psycopg.rows import tuple_row

from ipe_claims.domain.contributions import MonthlyDeclaration, months_before
from ipe_claims.domain.rules import LONG_WINDOW_MONTHS

HEADER = ["affiliation_number", "immatriculation", "cin", "nom", "prenoms", "period", "days", "salary"]


class DeclarationFileError(ValueError):
    """A declarations file that cannot be loaded; nothing of it was written."""


@dataclass(frozen=True)
class LoadReport:
    rows: int
    insured: int
    affiliations: int


# A load stages rows in a temporary table (no WAL), then merges them set-wise in primary-key order.
# ``seq`` keeps the input order, so when a file or a Kafka batch holds the same (insured, month,
# affiliation) twice, the later line wins, as it would row by row.
_STAGE = (
    "CREATE TEMP TABLE IF NOT EXISTS {name} (seq bigint GENERATED ALWAYS AS IDENTITY, affiliation_number text, "
    "immatriculation text, cin text, nom text, prenoms text, period date, days int, salary numeric(12,2)) "
    "ON COMMIT {on_commit}"
)
# A CSV is staged as Postgres parses it: COPY checks every line against these named constraints (the
# loader's rules) in the same pass, and its error names the line and the constraint.
# Each rule is a fast test for the usual line, OR-ed with the exact rule (evaluated only when the fast test
# fails), so the rules are unchanged and a monthly file pays ~0.7 µs a line instead of ~2 (docs/scaling.md).
# A fast test is wrapped in coalesce(…, false): NULL OR false would let an empty field pass a CHECK.
# All digits, 1 to 20 of them, spaces around allowed: trimming the digits off leaves nothing.
_DIGITS = (
    "(coalesce(octet_length({0}) BETWEEN 1 AND 20 AND ltrim({0}, '0123456789') = '', false) "
    "OR coalesce(length(btrim({0})) BETWEEN 1 AND 20 AND btrim(btrim({0}), '0123456789') = '', false))"
)
# Not empty once trimmed: a first byte above the space (byte order, whatever the database's collation).
_TEXT = "(coalesce({0} COLLATE \"C\" >= '!', false) OR coalesce(btrim({0}), '') <> '')"
_PERIOD = (
    "(coalesce(octet_length(period) = 7 AND substr(period, 5, 1) = '-' AND ltrim(left(period, 4), '0123456789') = '' "
    "AND substr(period, 6, 2) IN ('01', '02', '03', '04', '05', '06', '07', '08', '09', '10', '11', '12'), false) "
    "OR coalesce(period, '') ~ '^\\s*[0-9]{{4}}-(0[1-9]|1[0-2])\\s*$')"
)
_CHECKED_CSV = rf"""
CREATE TEMP TABLE staged_csv (seq bigint GENERATED ALWAYS AS IDENTITY,
  affiliation_number text CONSTRAINT "affiliation_number: must be digits"
    CHECK ({_DIGITS.format("affiliation_number")}),
  immatriculation text CONSTRAINT "immatriculation: must be digits" CHECK ({_DIGITS.format("immatriculation")}),
  cin text CONSTRAINT "cin: is empty" CHECK ({_TEXT.format("cin")}),
  nom text CONSTRAINT "nom: is empty" CHECK ({_TEXT.format("nom")}),
  prenoms text CONSTRAINT "prenoms: is empty" CHECK ({_TEXT.format("prenoms")}),
  period text CONSTRAINT "period: must be YYYY-MM" CHECK ({_PERIOD.format()}),
  days int CONSTRAINT "days: must be between 0 and 31" CHECK (days BETWEEN 0 AND 31),
  salary numeric(12,2) CONSTRAINT "salary: must be a non-negative amount" CHECK (salary >= 0),
  CONSTRAINT "days/salary: must be numbers" CHECK (days IS NOT NULL AND salary IS NOT NULL)
) ON COMMIT DROP
"""
_CSV_SOURCE = (
    "(SELECT seq, btrim(affiliation_number) AS affiliation_number, btrim(immatriculation) AS immatriculation, "
    "btrim(cin) AS cin, btrim(nom) AS nom, btrim(prenoms) AS prenoms, to_date(btrim(period), 'YYYY-MM') AS period, "
    "days, salary FROM staged_csv) AS staged_csv"
)
_COPY_LINE = re.compile(r"line (\d+)(?:, column (\w+))?")


def _stage(conn: psycopg.Connection[Any], name: str, on_commit: str) -> None:
    conn.execute(_STAGE.format(name=name, on_commit=on_commit))


def _file_error(exc: psycopg.Error) -> DeclarationFileError:
    """The COPY error as the loader's message: file line (the header is line 1), field, reason."""
    match = _COPY_LINE.search(exc.diag.context or "")
    line = int(match[1]) + 1 if match else "?"
    if isinstance(exc, psycopg.errors.CheckViolation) and exc.diag.constraint_name:
        return DeclarationFileError(f"line {line}, {exc.diag.constraint_name}")
    if isinstance(exc, psycopg.errors.NumericValueOutOfRange):
        return DeclarationFileError(f"line {line}, salary: must be a non-negative amount")
    if match and match[2] in ("days", "salary"):
        return DeclarationFileError(f"line {line}, days/salary: must be numbers")
    return DeclarationFileError(f"line {line}: {exc.diag.message_primary}")


def merge_staged(conn: psycopg.Connection[Any], staged: str, rows: int) -> LoadReport:
    """Upsert the typed, valid rows of ``staged`` (a temp table, or a query over one with an alias; its
    ``rows`` lines were staged) into affiliations, insured and declarations.

    Unchanged rows are not rewritten (a re-load or a redelivery leaves no dead tuples behind).
    """
    conn.execute("SET LOCAL work_mem = '256MB'")  # the merge sorts the whole batch once
    affiliations = conn.execute(
        f"INSERT INTO affiliations (affiliation_number) SELECT DISTINCT affiliation_number FROM {staged} "
        "ON CONFLICT DO NOTHING"
    ).rowcount
    insured = conn.execute(
        "INSERT INTO insured (immatriculation, cin, nom, prenoms) "
        f"SELECT DISTINCT ON (immatriculation) immatriculation, cin, nom, prenoms FROM {staged} "
        "ORDER BY immatriculation, period DESC, seq DESC "
        "ON CONFLICT (immatriculation) DO UPDATE SET cin = EXCLUDED.cin, nom = EXCLUDED.nom, "
        "prenoms = EXCLUDED.prenoms WHERE (insured.cin, insured.nom, insured.prenoms) IS DISTINCT FROM "
        "(EXCLUDED.cin, EXCLUDED.nom, EXCLUDED.prenoms)"
    ).rowcount
    conn.execute(
        "INSERT INTO declarations (immatriculation, affiliation_number, period, days, salary) "
        "SELECT DISTINCT ON (immatriculation, period, affiliation_number) immatriculation, "
        f"affiliation_number, period, days, salary FROM {staged} "
        "ORDER BY immatriculation, period, affiliation_number, seq DESC "
        "ON CONFLICT (immatriculation, period, affiliation_number) DO UPDATE "
        "SET days = EXCLUDED.days, salary = EXCLUDED.salary "
        "WHERE (declarations.days, declarations.salary) IS DISTINCT FROM (EXCLUDED.days, EXCLUDED.salary)"
    )
    return LoadReport(rows=rows, insured=insured, affiliations=affiliations)


def load_rows(conn: psycopg.Connection[Any], rows: list[tuple[Any, ...]]) -> LoadReport:
    """Upsert parsed rows (``HEADER`` order) in one transaction through COPY; a row for an existing
    (affiliation, insured, period) replaces it."""
    with conn.transaction():
        _stage(conn, "staged_declarations", on_commit="DROP")
        with conn.cursor().copy(f"COPY staged_declarations ({','.join(HEADER)}) FROM STDIN") as copy:
            for row in rows:
                copy.write_row(row)
        return merge_staged(conn, "staged_declarations", len(rows))


def load_csv(conn: psycopg.Connection[Any], path: Path, chunk_bytes: int = 1 << 20) -> LoadReport:
    """Load a declarations CSV in one transaction: Postgres parses and checks it in one COPY (the first
    bad line is reported with its field), then merges it. Nothing is written when any line is wrong.
    Salaries round half away from zero to the centime (Postgres numeric); values are trimmed."""
    with path.open("rb") as handle:
        header = handle.readline().decode("utf-8", errors="replace").strip().lstrip("\ufeff")
        if header.split(",") != HEADER:
            raise DeclarationFileError(f"header must be {','.join(HEADER)}")
        try:
            with conn.transaction():
                conn.execute(_CHECKED_CSV)
                copy_sql = f"COPY staged_csv ({','.join(HEADER)}) FROM STDIN WITH (FORMAT csv)"
                with (cursor := conn.cursor()).copy(copy_sql) as copy:
                    while chunk := handle.read(chunk_bytes):
                        copy.write(chunk)
                return merge_staged(conn, _CSV_SOURCE, cursor.rowcount)
        except (psycopg.DataError, psycopg.IntegrityError) as exc:
            raise _file_error(exc) from None


def contribution_history(
    conn: psycopg.Connection[Any], immatriculation: str, job_loss_date: date
) -> list[MonthlyDeclaration]:
    """Every affiliation's declarations for the insured in the 36 months before the month of the loss."""
    return contribution_histories(conn, [(immatriculation, job_loss_date)])[0]


def contribution_histories(
    conn: psycopg.Connection[Any], wanted: list[tuple[str, date]]
) -> list[list[MonthlyDeclaration]]:
    """``contribution_history`` for many (immatriculation, job-loss date) pairs in one query, in order:
    a consumer's poll decides all its claims after one round trip."""
    if not wanted:
        return []
    windows = [months_before(loss, LONG_WINDOW_MONTHS) for _, loss in wanted]
    cursor = conn.cursor(row_factory=tuple_row)  # tuples whatever the connection gives (the API's: dicts)
    rows = cursor.execute(
        "SELECT w.n, d.affiliation_number, d.period, d.days, d.salary "
        "FROM unnest(%s::text[], %s::date[], %s::date[]) WITH ORDINALITY AS w(immatriculation, first, last, n) "
        "JOIN declarations d ON d.immatriculation = w.immatriculation AND d.period BETWEEN w.first AND w.last "
        "ORDER BY w.n, d.period, d.affiliation_number",
        (
            [who for who, _ in wanted],
            [w[0] if w else None for w in windows],
            [w[-1] if w else None for w in windows],
        ),
    ).fetchall()  # an empty window (a loss in year 1's January) has no bounds and matches nothing
    histories: list[list[MonthlyDeclaration]] = [[] for _ in wanted]
    for n, aff, period, days, salary in rows:
        histories[n - 1].append(MonthlyDeclaration(aff, period, days, salary))
    return histories


@dataclass(frozen=True)
class DeclarationsOnConnection:
    """The ``ContributionHistories`` port on a connection: a consumer reads in its own transaction."""

    conn: psycopg.Connection[Any]

    def histories(self, wanted: Sequence[tuple[str, date]]) -> list[list[MonthlyDeclaration]]:
        return contribution_histories(self.conn, list(wanted))
