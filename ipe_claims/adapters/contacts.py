"""How to reach the insured: the ``contacts`` table, filled from a CSV by ``ipe contacts load``."""

from __future__ import annotations

import csv
import re
from collections.abc import Collection
from pathlib import Path
from typing import Any

import psycopg

from ipe_claims.application.ports import Contact

__all__ = ["Contact", "ContactFileError", "PostgresContacts", "find", "find_many", "load", "read_csv"]

HEADER = ["immatriculation", "email", "mobile", "language"]
_NUMBER = re.compile(r"^\d{1,20}$")
_EMAIL = re.compile(r"^[^@\s<>,;\"]+@[^@\s<>,;\"]+\.[A-Za-z]{2,}$")
_MOBILE = re.compile(r"^(?:\+212|00212|0)([5-7]\d{8})$")


class ContactFileError(ValueError):
    """A contacts file that cannot be loaded; nothing of it was written."""


def normalise_mobile(raw: str) -> str | None:
    """A Moroccan mobile number in E.164 (+212XXXXXXXXX), or None if it is not one."""
    found = _MOBILE.match(re.sub(r"[\s.\-()]", "", raw))
    return f"+212{found.group(1)}" if found else None


def parse_row(line: int, row: dict[str, str]) -> Contact:
    values = {key: (row.get(key) or "").strip() for key in HEADER}
    if not _NUMBER.match(values["immatriculation"]):
        raise ContactFileError(f"line {line}, immatriculation: must be digits")
    email = values["email"] or None
    if email is not None and not _EMAIL.match(email):
        raise ContactFileError(f"line {line}, email: not an email address")
    mobile = normalise_mobile(values["mobile"]) if values["mobile"] else None
    if values["mobile"] and mobile is None:
        raise ContactFileError(f"line {line}, mobile: not a Moroccan mobile number (06…, 07…, +2126…)")
    if email is None and mobile is None:
        raise ContactFileError(f"line {line}: neither email nor mobile")
    language = values["language"].lower() or "fr"
    if language not in ("fr", "ar"):
        raise ContactFileError(f"line {line}, language: must be fr or ar")
    return Contact(values["immatriculation"], email, mobile, language)


def read_csv(path: Path) -> list[Contact]:
    """Every row, validated; the first bad one refuses the whole file (with its line number)."""
    with path.open(newline="", encoding="utf-8-sig") as handle:
        reader = csv.DictReader(handle)
        if [name.strip() for name in reader.fieldnames or []] != HEADER:
            raise ContactFileError(f"the header must be {','.join(HEADER)}")
        return [parse_row(number, row) for number, row in enumerate(reader, start=2)]


def load(conn: psycopg.Connection[Any], contacts: list[Contact]) -> int:
    """Insert or replace, in one transaction."""
    with conn.transaction(), conn.cursor() as cursor:
        cursor.executemany(
            "INSERT INTO contacts (immatriculation, email, mobile, language) VALUES (%s, %s, %s, %s) "
            "ON CONFLICT (immatriculation) DO UPDATE SET email = EXCLUDED.email, mobile = EXCLUDED.mobile, "
            "language = EXCLUDED.language, updated_at = now()",
            [(c.immatriculation, c.email, c.mobile, c.language) for c in contacts],
        )
    return len(contacts)


def find(conn: psycopg.Connection[Any], immatriculation: str) -> Contact | None:
    return find_many(conn, [immatriculation]).get(immatriculation)


def find_many(conn: psycopg.Connection[Any], immatriculations: Collection[str]) -> dict[str, Contact]:
    """``find`` for many insured at once (a consumer's poll): one query."""
    rows = conn.execute(
        "SELECT immatriculation, email, mobile, language FROM contacts WHERE immatriculation = ANY(%s)",
        (list(immatriculations),),
    ).fetchall()
    return {row[0]: Contact(*row) for row in rows}


class PostgresContacts:
    """The ``Contacts`` port on a connection (read in the caller's transaction)."""

    def __init__(self, conn: psycopg.Connection[Any]) -> None:
        self.conn = conn

    def find_many(self, immatriculations: Collection[str]) -> dict[str, Contact]:
        return find_many(self.conn, immatriculations)
