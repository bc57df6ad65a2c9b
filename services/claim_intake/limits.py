"""Per-account request rate, counted in Postgres so every api process shares the count.

Fixed one-minute windows (Postgres's clock): simple, and the worst burst (twice the limit across a window
edge) is still bounded. Old windows of the account are dropped when it opens a new one.

A process does not write a row per request: it reserves a *lease* of requests in Postgres (1, then 2, 4 …
up to ``max_lease`` while the account keeps asking in the same window) and counts them down in memory.
Every request served was reserved in Postgres first, so all processes together never serve more than the
limit in a window; a lease one process has not used yet counts against the others, so an account may be
refused up to (processes − 1) × ``max_lease`` requests before its limit — never after it. One process
alone is exact.
"""

from __future__ import annotations

import math
import threading
import time
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import psycopg
from psycopg.rows import tuple_row

_RESERVE = (
    "INSERT INTO rate_windows (username, window_start, requests) VALUES (%s, date_trunc('minute', now()), %s) "
    "ON CONFLICT (username, window_start) DO UPDATE SET requests = rate_windows.requests + EXCLUDED.requests "
    "RETURNING window_start, requests, 60 - extract(epoch FROM now() - date_trunc('minute', now()))"
)


@dataclass
class _Window:
    start: datetime  # Postgres's window, so leases of concurrent reservations add up in the right one
    ends: float  # time.monotonic() when it ends here
    left: int  # reserved in Postgres, not used yet
    lease: int  # what the next reservation asks for
    full: bool = False  # Postgres gave less than asked: nothing more this window


class Limiter:
    def __init__(self, per_minute: int, max_lease: int = 64) -> None:
        self.per_minute = per_minute
        self.max_lease = max(1, min(max_lease, per_minute // 20))
        self._windows: dict[str, _Window] = {}
        self._lock = threading.Lock()

    def count_locally(self, username: str) -> int | None:
        """Count this request against the account's lease: 0 when within the limit, else the seconds until
        the next window; None when there is no lease left to count against (call ``count``)."""
        now = time.monotonic()
        with self._lock:
            window = self._windows.get(username)
            if window is None or now >= window.ends:
                return None
            if window.left > 0:
                window.left -= 1
                return 0
            return max(1, math.ceil(window.ends - now)) if window.full else None

    def count(self, conn: psycopg.Connection[Any], username: str) -> int:
        """Count this request, reserving a new lease in Postgres when needed; 0 or the seconds to wait."""
        counted = self.count_locally(username)
        if counted is not None:
            return counted
        with self._lock:
            window = self._windows.get(username)
            lease = window.lease if window is not None and time.monotonic() < window.ends else 1
        cursor = conn.cursor(row_factory=tuple_row)
        start, requests, remaining = cursor.execute(_RESERVE, (username, lease)).fetchone()  # type: ignore[misc]
        if requests == lease:  # the first reservation of this window, by any process
            conn.execute(
                "DELETE FROM rate_windows WHERE username = %s AND window_start < %s", (username, start)
            )
        granted = max(0, min(lease, self.per_minute - (requests - lease)))
        with self._lock:
            window = self._windows.get(username)
            if window is None or window.start != start:
                if len(self._windows) > 10_000:  # forget accounts whose window is over
                    now = time.monotonic()
                    self._windows = {name: w for name, w in self._windows.items() if w.ends > now}
                window = self._windows[username] = _Window(start, time.monotonic() + float(remaining), 0, 1)
            window.left += max(0, granted - 1)  # this request takes one of them
            window.lease = min(self.max_lease, lease * 2)
            window.full = window.full or granted < lease
        return 0 if granted > 0 else max(1, math.ceil(remaining))
