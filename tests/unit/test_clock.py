"""The one clock: the fund's day is Casablanca's, a shifted clock lives on the day it was asked for."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest

from ipe_claims.application.clock import FixedClock, SystemClock
from ipe_claims.domain.dates import local_date
from ipe_claims.settings import Settings


def test_the_funds_day_is_casablancas_not_utcs() -> None:
    clock = FixedClock(datetime(2027, 12, 31, 23, 30, tzinfo=UTC))  # 00:30 on 1 January in Casablanca
    assert clock.today() == date(2028, 1, 1)
    clock.advance(timedelta(days=1))
    assert clock.today() == date(2028, 1, 2)


@pytest.mark.parametrize("day", [date(2028, 2, 29), date(2027, 1, 1), date(2026, 11, 30), date(2015, 3, 1)])
def test_a_clock_living_on_a_day_says_that_day_and_keeps_the_time_of_day(day: date) -> None:
    clock = SystemClock.living_on(day)
    assert clock.today() == day
    assert clock.shift.seconds == 0 and clock.shift.microseconds == 0  # whole days: the time of day is real
    assert abs(clock.now() - clock.shift - datetime.now(UTC)) < timedelta(seconds=5)


@pytest.mark.parametrize("day", [date(2028, 2, 29), date(2015, 3, 1), date(2027, 1, 1)])
def test_a_clock_living_on_a_day_lands_on_it_at_any_hour(day: date) -> None:
    """At 23:30 UTC on 4 December 2026 Casablanca (UTC+1) is already on the 5th, while on 28 February
    2028 (Ramadan, UTC+0) and 28 February 2015 (winter, UTC+0) it is still that day at 23:30 UTC: a shift
    of whole days from today's date alone would land a day short."""
    for hour, minute in ((0, 0), (11, 0), (22, 59), (23, 0), (23, 30), (23, 59)):
        now = datetime(2026, 12, 4, hour, minute, tzinfo=UTC)
        clock = SystemClock.living_on(day, now=now)
        assert local_date(now + clock.shift) == day, (hour, minute)
        assert clock.shift.seconds == 0 and clock.shift.microseconds == 0


def test_settings_read_the_shift_from_the_environment_and_refuse_it_in_production() -> None:
    base = {"DATABASE_URL": "postgresql://x@127.0.0.1/ipe", "KAFKA_BOOTSTRAP_SERVERS": "127.0.0.1:9092"}
    assert Settings.from_env(base).clock().shift == timedelta(0)
    assert Settings.from_env(base | {"IPE_CLOCK_SHIFT_DAYS": "-3"}).clock().shift == timedelta(days=-3)
    production = base | {"IPE_REQUIRE_TLS": "1", "KAFKA_SECURITY_PROTOCOL": "SSL", "PGSSLMODE": "require"}
    assert Settings.from_env(production).clock().shift == timedelta(0)
    with pytest.raises(ValueError, match="IPE_CLOCK_SHIFT_DAYS"):
        Settings.from_env(production | {"IPE_CLOCK_SHIFT_DAYS": "30"})
