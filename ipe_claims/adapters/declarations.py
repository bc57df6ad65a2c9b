"""The contribution history in Postgres: bulk CSV load and the query the rules read."""

from __future__ import annotations

import csv
import re
from dataclasses import dataclass
from datetime import date
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

import psycopg

from ipe_claims.domain.contributions import MonthlyDeclaration, months_before
from ipe_claims.domain.rules import LONG_WINDOW_MONTHS

HEADER = ["affiliation_number", "immatriculation", "cin", "nom", "prenoms", "period", "days", "salary"]
_PERIOD = re.compile(r"^(\d{4})-(0[1-9]|1[0-2])$")
_NUMBER = re.compile(r"^\d{1,20}$")


class DeclarationFileError(ValueError):
    """A declarations file that cannot be loaded; nothing of it was written."""


@dataclass(frozen=True)
class LoadReport:
    rows: int
    insured: int
    affiliations: int


def _parse_row(line: int, row: dict[str, str]) -> tuple[Any, ...]:
    def fail(field: str, why: str) -> DeclarationFileError:
        return DeclarationFileError(f"line {line}, {field}: {why}")

    values = {key: (row.get(key) or "").strip() for key in HEADER}
    for key in ("affiliation_number", "immatriculation"):
        if not _NUMBER.match(values[key]):
            raise fail(key, "must be digits")
    for key in ("cin", "nom", "prenoms"):
        if not values[key]:
            raise fail(key, "is empty")
    period = _PERIOD.match(values["period"])
    if not period:
        raise fail("period", "must be YYYY-MM")
    try:
        days = int(values["days"])
        salary = Decimal(values["salary"])
    except (ValueError, InvalidOperation):
        raise fail("days/salary", "must be numbers") from None
    if not 0 <= days <= 31:
        raise fail("days", "must be between 0 and 31")
    if not salary.is_finite() or salary < 0 or salary >= Decimal("1e10"):
        raise fail("salary", "must be a non-negative amount")
    return (
        values["affiliation_number"],
        values["immatriculation"],
        values["cin"],
        values["nom"],
        values["prenoms"],
        date(int(period[1]), int(period[2]), 1),
        days,
        salary.quantize(Decimal("0.01")),
    )


def read_csv(path: Path) -> list[tuple[Any, ...]]:
    with path.open(newline="", encoding="utf-8") as handle:
        reader = csv.DictReader(handle)
        if reader.fieldnames != HEADER:
            raise DeclarationFileError(f"header must be {','.join(HEADER)}")
        return [_parse_row(index, row) for index, row in enumerate(reader, start=2)]


def load_rows(conn: psycopg.Connection[Any], rows: list[tuple[Any, ...]]) -> LoadReport:
    """Upsert in one transaction through COPY; a row for an existing (affiliation, insured, period)
    replaces it."""
    with conn.transaction():
        conn.execute(
            "CREATE TEMP TABLE staged_declarations (affiliation_number text, immatriculation text, cin text, "
            "nom text, prenoms text, period date, days int, salary numeric(12,2)) ON COMMIT DROP"
        )
        with conn.cursor().copy(f"COPY staged_declarations ({','.join(HEADER)}) FROM STDIN") as copy:
            for row in rows:
                copy.write_row(row)
        affiliations = conn.execute(
            "INSERT INTO affiliations (affiliation_number) SELECT DISTINCT affiliation_number "
            "FROM staged_declarations ON CONFLICT DO NOTHING"
        ).rowcount
        insured = conn.execute(
            "INSERT INTO insured (immatriculation, cin, nom, prenoms) "
            "SELECT DISTINCT ON (immatriculation) immatriculation, cin, nom, prenoms FROM staged_declarations "
            "ORDER BY immatriculation, period DESC "
            "ON CONFLICT (immatriculation) DO UPDATE SET cin = EXCLUDED.cin, nom = EXCLUDED.nom, "
            "prenoms = EXCLUDED.prenoms"
        ).rowcount
        conn.execute(
            "INSERT INTO declarations (immatriculation, affiliation_number, period, days, salary) "
            "SELECT DISTINCT ON (immatriculation, period, affiliation_number) immatriculation, "
            "affiliation_number, period, days, salary FROM staged_declarations "
            "ON CONFLICT (immatriculation, period, affiliation_number) DO UPDATE "
            "SET days = EXCLUDED.days, salary = EXCLUDED.salary"
        )
    return LoadReport(rows=len(rows), insured=insured, affiliations=affiliations)


def contribution_history(
    conn: psycopg.Connection[Any], immatriculation: str, job_loss_date: date
) -> list[MonthlyDeclaration]:
    """Every affiliation's declarations for the insured in the 36 months before the month of the loss."""
    window = months_before(job_loss_date, LONG_WINDOW_MONTHS)
    rows = conn.execute(
        "SELECT affiliation_number, period, days, salary FROM declarations "
        "WHERE immatriculation = %s AND period >= %s AND period <= %s "
        "ORDER BY period, affiliation_number",
        (immatriculation, window[0], window[-1]),
    ).fetchall()
    return [MonthlyDeclaration(aff, period, days, salary) for aff, period, days, salary in rows]
