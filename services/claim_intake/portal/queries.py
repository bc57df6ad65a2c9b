"""The portal's own reads: the insured an affiliation declared, with their cumulated declared days."""

from __future__ import annotations

from datetime import date
from typing import Any

import psycopg

from ipe_claims.domain.contributions import months_before

MAX_LISTED = 200
WINDOW_MONTHS = 36  # the window of the 780-day rule (docs/rules.md)

# Days declared by every affiliation (the rules count them all) over the complete months of the window.
_INSURED = (
    "SELECT i.immatriculation, i.cin, i.nom, i.prenoms, %(aff)s AS affiliation_number, "
    "coalesce((SELECT sum(d.days) FROM declarations d WHERE d.immatriculation = i.immatriculation "
    "AND d.period >= %(since)s AND d.period < %(until)s), 0)::int AS days "
    "FROM insured i WHERE EXISTS (SELECT 1 FROM declarations m WHERE m.immatriculation = i.immatriculation "
    "AND m.affiliation_number = %(aff)s) "
)


def _window(today: date) -> dict[str, date]:
    months = months_before(today, WINDOW_MONTHS)
    return {"since": months[0], "until": date(today.year, today.month, 1)}


def declared_insured(conn: psycopg.Connection[Any], affiliation: str, today: date, search: str | None,
                     limit: int = MAX_LISTED) -> list[dict[str, Any]]:  # fmt: skip
    """The insured ``affiliation`` ever declared, by name; ``search`` an immatriculation or part of a name."""
    like = f"%{search}%" if search else None
    return conn.execute(
        _INSURED + "AND (%(q)s::text IS NULL OR i.immatriculation = %(q)s OR i.nom ILIKE %(like)s "
        "OR i.prenoms ILIKE %(like)s) ORDER BY i.nom, i.prenoms, i.immatriculation LIMIT %(limit)s",
        {"aff": affiliation, "q": search or None, "like": like, "limit": limit, **_window(today)},
    ).fetchall()


def declared_one(conn: psycopg.Connection[Any], affiliation: str, immatriculation: str,
                 today: date) -> dict[str, Any] | None:  # fmt: skip
    """One insured as ``affiliation`` declared them, else None (never declared by it)."""
    return conn.execute(
        _INSURED + "AND i.immatriculation = %(imm)s",
        {"aff": affiliation, "imm": immatriculation, **_window(today)},
    ).fetchone()
