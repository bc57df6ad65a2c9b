"""What stands before a password check: a limit per client address, and a cap on checks at once.

Each Argon2 check takes 64 MiB and tens of milliseconds: unauthenticated requests must not be able to
take the server's memory. Both guards answer before any hashing and before a database connection is
taken. They live in the api process (no round trip, nothing to write per attempt), so with several
processes an address gets up to that many times its limit; the per-account counts stay in Postgres.
"""

from __future__ import annotations

import ipaddress
import math
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Iterator
from contextlib import contextmanager


def address_of(host: str | None) -> str:
    """The client as the limits count it: an IPv4 address, or the /64 an IPv6 host gets (one site)."""
    try:
        ip = ipaddress.ip_address(host or "")
    except ValueError:
        return host or "unknown"
    if ip.version == 6 and ip.ipv4_mapped is None:
        return str(ipaddress.ip_network(f"{ip}/64", strict=False))
    return str(ip.ipv4_mapped or ip) if ip.version == 6 else str(ip)


class AddressLimiter:
    """At most ``per_minute`` login attempts per address that are failing or still being checked, in fixed
    one-minute windows; a success gives its attempt back. At most ``size`` addresses are remembered (the
    least recently seen are forgotten first), so a flood of addresses cannot grow it without bound."""

    def __init__(
        self, per_minute: int, size: int = 100_000, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.per_minute = per_minute
        self.size = size
        self._clock = clock
        self._windows: OrderedDict[str, tuple[float, int]] = OrderedDict()  # address -> (window end, count)
        self._lock = threading.Lock()

    def take(self, address: str) -> int:
        """Count an attempt: 0 when it may go on, else the seconds until the address's window ends."""
        now = self._clock()
        with self._lock:
            ends, count = self._windows.pop(address, (0.0, 0))
            if now >= ends:
                ends, count = now + 60.0, 0
            if count >= self.per_minute:
                self._windows[address] = (ends, count)
                return max(1, math.ceil(ends - now))
            self._windows[address] = (ends, count + 1)
            while len(self._windows) > self.size:
                self._windows.popitem(last=False)
            return 0

    def give_back(self, address: str) -> None:
        """A successful login does not count against its address."""
        with self._lock:
            if address in self._windows:
                ends, count = self._windows[address]
                self._windows[address] = (ends, max(0, count - 1))

    def __len__(self) -> int:
        return len(self._windows)


class PasswordChecks:
    """At most ``limit`` password checks at once in this process; beyond, the caller answers 503."""

    def __init__(self, limit: int) -> None:
        self._slots = threading.BoundedSemaphore(limit)

    @contextmanager
    def slot(self) -> Iterator[bool]:
        """Yields whether a slot was free (no waiting: a burst is refused, not queued)."""
        taken = self._slots.acquire(blocking=False)
        try:
            yield taken
        finally:
            if taken:
                self._slots.release()
