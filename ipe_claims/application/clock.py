"""The one clock every process reads "now" and "today" from.

Rules never read it: the intake stamps ``filed_at`` from it and the log carries that instant, so a replay
decides the same way years later (docs/rules.md). What reads the clock takes it as an argument, so a test
can set the date, and ``IPE_CLOCK_SHIFT_DAYS`` lets a whole running system (the test harness, a rehearsal
of a year end) live on another day while its time of day stays real.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Protocol

from ipe_claims.domain.dates import local_date


class Clock(Protocol):
    def now(self) -> datetime:
        """The current instant, timezone-aware."""
        ...

    def today(self) -> date:
        """The fund's date (Africa/Casablanca) of the current instant."""
        ...


@dataclass(frozen=True)
class SystemClock:
    """The machine's clock, moved by a whole number of days where the settings ask for it."""

    shift: timedelta = timedelta(0)

    def now(self) -> datetime:
        return datetime.now(UTC) + self.shift

    def today(self) -> date:
        return local_date(self.now())

    @classmethod
    def living_on(cls, day: date, now: datetime | None = None) -> SystemClock:
        """A clock whose today is ``day`` (time of day kept real), as of ``now`` (the machine's instant).

        Whole days from today's date to ``day`` are not always enough: Casablanca's offset from UTC on
        ``day`` may differ from today's (UTC+0 in Ramadan, and in winter before 2018), and between 23:00
        and midnight UTC the shifted instant then falls on the day before or after. The second step
        lands it on ``day``."""
        now = now or datetime.now(UTC)
        shift = timedelta(days=(day - local_date(now)).days)
        return cls(shift + timedelta(days=(day - local_date(now + shift)).days))


@dataclass
class FixedClock:
    """A clock that moves only when told: for unit tests and in-process scenarios."""

    instant: datetime = field(default_factory=lambda: datetime(2028, 2, 29, 10, 0, tzinfo=UTC))

    def now(self) -> datetime:
        return self.instant

    def today(self) -> date:
        return local_date(self.instant)

    def advance(self, by: timedelta) -> None:
        self.instant += by
