"""The filing service's ``DeclarationsReader`` over Postgres: the insured as their affiliation declared them."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import psycopg
from psycopg.rows import tuple_row

from ipe_claims.application.intake import Declared

# (n, cin, nom, prenoms) for the n-th (immatriculation, affiliation) pair (from 1); no row when that
# affiliation never declared the insured.
_PEOPLE = (
    "SELECT w.n, i.cin, i.nom, i.prenoms FROM unnest(%s::text[], %s::text[]) WITH ORDINALITY AS w(imm, aff, n) "
    "JOIN insured i ON i.immatriculation = w.imm WHERE EXISTS (SELECT 1 FROM declarations d "
    "WHERE d.immatriculation = w.imm AND d.affiliation_number = w.aff)"
)


class PostgresDeclarations:
    """Reads on the caller's connection (the ingress's: inside the transaction that stores its position)."""

    def __init__(self, conn: psycopg.Connection[Any]) -> None:
        self.conn = conn

    def declared(self, pairs: Sequence[tuple[str, str]]) -> list[Declared | None]:
        """One query whatever the number of pairs."""
        if not pairs:
            return []
        rows = (
            self.conn.cursor(row_factory=tuple_row)
            .execute(_PEOPLE, ([imm for imm, _ in pairs], [aff for _, aff in pairs]))
            .fetchall()
        )
        people: list[Declared | None] = [None] * len(pairs)
        for n, cin, nom, prenoms in rows:
            people[n - 1] = Declared(cin, nom, prenoms)
        return people
