"""The login guards on their own: address windows, bounded memory, the cap on checks at once."""

from __future__ import annotations

from datetime import UTC, datetime

from ipe_claims.adapters.accounts import LOCK_AFTER, UnknownNames
from services.claim_intake.login_guard import AddressLimiter, PasswordChecks, address_of
from tests.unit.fakes import Seconds


def test_an_address_gets_its_limit_per_window_and_successes_back() -> None:
    clock = Seconds()
    limiter = AddressLimiter(3, clock=clock)
    assert [limiter.take("a") for _ in range(3)] == [0, 0, 0]
    assert limiter.take("a") == 60 and limiter.take("b") == 0
    limiter.give_back("a")
    assert limiter.take("a") == 0
    clock.now += 59.5
    assert limiter.take("a") == 1
    clock.now += 1
    assert limiter.take("a") == 0  # a new window


def test_a_flood_of_addresses_is_forgotten_oldest_first() -> None:
    limiter = AddressLimiter(1, size=100)
    for n in range(10_000):
        limiter.take(f"10.0.{n // 256}.{n % 256}")
    assert len(limiter) == 100
    assert limiter.take("10.0.39.15") == 60  # among the last seen: still counted
    assert limiter.take("10.0.0.0") == 0  # forgotten: a fresh window


def test_ipv6_hosts_of_one_site_count_as_one_address() -> None:
    assert address_of("2001:db8:1:2:aaaa::1") == address_of("2001:db8:1:2:bbbb::2") == "2001:db8:1:2::/64"
    assert address_of("::ffff:192.0.2.7") == "192.0.2.7" and address_of("192.0.2.7") == "192.0.2.7"
    assert address_of(None) == "unknown" and address_of("testclient") == "testclient"


def test_checks_beyond_the_cap_are_refused_not_queued() -> None:
    checks = PasswordChecks(2)
    with checks.slot() as first, checks.slot() as second, checks.slot() as third:
        assert (first, second, third) == (True, True, False)
    with checks.slot() as again:
        assert again  # released, including after the refusal


def test_unknown_names_are_bounded_and_locked_alike() -> None:
    names = UnknownNames(size=50)
    now = datetime(2026, 12, 4, tzinfo=UTC)
    for n in range(1000):
        names.failed(f"nobody-{n}", "10.0.0.1", 1, now)
    assert len(names) == 50 and names.get("nobody-0", "10.0.0.1") is None
    names.failed("ghost", "10.0.0.1", LOCK_AFTER, now)
    failures, _, locked_until = names.get("ghost", "10.0.0.1")  # type: ignore[misc]
    assert failures == LOCK_AFTER and locked_until is not None and locked_until > now
