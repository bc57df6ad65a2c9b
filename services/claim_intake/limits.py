"""Per-account request rate, counted in Postgres so every api process shares the count.

Fixed one-minute windows: simple, and the worst burst (twice the limit across a window edge) is
still bounded. Old windows of the account are dropped when it opens a new one.
"""

from __future__ import annotations

import math
from typing import Any

import psycopg
from psycopg.rows import tuple_row


def over_limit(conn: psycopg.Connection[Any], username: str, per_minute: int) -> int:
    """Count this request; 0 when within the limit, else the seconds until the next window."""
    requests, remaining = (
        conn.cursor(row_factory=tuple_row)
        .execute(
            "INSERT INTO rate_windows (username, window_start, requests) VALUES (%s, date_trunc('minute', now()), 1) "
            "ON CONFLICT (username, window_start) DO UPDATE SET requests = rate_windows.requests + 1 "
            "RETURNING requests, 60 - extract(epoch FROM now() - date_trunc('minute', now()))",
            (username,),
        )
        .fetchone()  # type: ignore[misc]
    )
    if requests == 1:
        conn.execute(
            "DELETE FROM rate_windows WHERE username = %s AND window_start < date_trunc('minute', now())",
            (username,),
        )
    return 0 if requests <= per_minute else max(1, math.ceil(remaining))
