"""Affiliation reference data (name, city, region): the source of the names the API returns and of the
analysts' breakdowns by place."""

from __future__ import annotations

import csv
import re
from pathlib import Path
from typing import Any

import psycopg

HEADER = ["affiliation_number", "name", "city", "region"]
_NUMBER = re.compile(r"^\d{1,20}$")


class AffiliationFileError(ValueError):
    """A file that cannot be loaded; nothing of it was written."""


def read_affiliations(path: Path) -> list[tuple[str, str, str | None, str | None]]:
    """Every line of the file, or the first reason it cannot be loaded: a short line would clear a region."""
    with path.open(newline="", encoding="utf-8") as handle:
        reader = csv.reader(handle)
        if next(reader, None) != HEADER:
            raise AffiliationFileError(f"header must be {','.join(HEADER)}")
        rows = []
        for line, cells in enumerate(reader, start=2):
            if not cells:
                continue  # a blank line
            if len(cells) != len(HEADER):
                raise AffiliationFileError(
                    f"line {line}: {len(cells)} columns, expected {len(HEADER)} ({','.join(HEADER)})"
                )
            number, name, city, region = (cell.strip() for cell in cells)
            if not _NUMBER.match(number):
                raise AffiliationFileError(f"line {line}, affiliation_number: must be digits")
            if not name:
                raise AffiliationFileError(f"line {line}, name: is empty")
            rows.append((number, name, city or None, region or None))
        return rows


def load_affiliations(
    conn: psycopg.Connection[Any], rows: list[tuple[str, str, str | None, str | None]]
) -> int:
    """Upsert in one transaction; a row for a known affiliation replaces its name, city and region."""
    with conn.transaction(), conn.cursor() as cursor:
        cursor.executemany(
            "INSERT INTO affiliations (affiliation_number, name, city, region) VALUES (%s, %s, %s, %s) "
            "ON CONFLICT (affiliation_number) DO UPDATE SET name = EXCLUDED.name, city = EXCLUDED.city, "
            "region = EXCLUDED.region",
            rows,
        )
    return len(rows)
