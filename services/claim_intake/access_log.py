"""The access log: who read which personal data, when (Moroccan law 09-08).

Every route that returns names, CIN or figures of an insured records one row per claim (or insured)
it shows, before answering: if the record cannot be written, the data is not returned.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import psycopg

from ipe_claims.adapters.accounts import Principal


def record(conn: psycopg.Connection[Any], caller: Principal, action: str, shown: Iterable[dict[str, Any]],
           request_id: str | None = None) -> None:  # fmt: skip
    """``shown``: dicts with any of claim_id, affiliation_number, immatriculation (what was read)."""
    rows = [
        (caller.username, caller.role, action, str(item["claim_id"]) if item.get("claim_id") else None,
         item.get("affiliation_number"), item.get("immatriculation"), request_id)
        for item in shown
    ]  # fmt: skip
    if not rows:
        return
    with conn.transaction(), conn.cursor() as cursor:
        cursor.executemany(
            "INSERT INTO access_log (username, role, action, claim_id, affiliation_number, immatriculation, "
            "request_id) VALUES (%s, %s, %s, %s, %s, %s, %s)",
            rows,
        )
