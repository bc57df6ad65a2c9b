"""The access log: who read which personal data, when (Moroccan law 09-08).

Every route that returns names, CIN or figures of an insured records one row per claim (or insured)
it shows, before answering: if the record cannot be written, the data is not returned. A claim
submission's row is written with its batch's, in one statement, right after the transaction holding the
claims and before any of them is answered (``services/claim_intake/submissions.py``).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

import psycopg

from ipe_claims.adapters.accounts import Principal

_INSERT = (
    "INSERT INTO access_log (username, role, action, claim_id, affiliation_number, immatriculation, request_id) "
    "SELECT * FROM unnest(%s::text[], %s::text[], %s::text[], %s::uuid[], %s::text[], %s::text[], %s::text[])"
)


def rows(caller: Principal, action: str, shown: Iterable[dict[str, Any]],
         request_id: str | None = None) -> list[tuple[Any, ...]]:  # fmt: skip
    """``shown``: dicts with any of claim_id, affiliation_number, immatriculation (what was read)."""
    return [
        (caller.username, caller.role, action, str(item["claim_id"]) if item.get("claim_id") else None,
         item.get("affiliation_number"), item.get("immatriculation"), request_id)
        for item in shown
    ]  # fmt: skip


def insert(conn: psycopg.Connection[Any], logged: Sequence[tuple[Any, ...]]) -> None:
    """Every row in one statement (atomic on its own, one round trip whatever the count)."""
    if logged:
        conn.execute(_INSERT, [list(column) for column in zip(*logged, strict=True)])


def record(conn: psycopg.Connection[Any], caller: Principal, action: str, shown: Iterable[dict[str, Any]],
           request_id: str | None = None) -> None:  # fmt: skip
    insert(conn, rows(caller, action, shown, request_id))
