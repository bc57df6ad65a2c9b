"""How long a consumer waits before trying a record again, and when /healthz calls a partition stalled."""

from __future__ import annotations

from datetime import date

from ipe_claims.adapters.kafka import RETRY_MAX_SECONDS, backoff
from ipe_claims.domain.rules import SCHEME_START, judgeable_loss
from services.claim_intake.routes.health import stalled_partitions


def test_the_pause_doubles_up_to_its_cap() -> None:
    assert [backoff(n) for n in range(1, 5)] == [0.5, 1.0, 2.0, 4.0]
    assert backoff(40) == RETRY_MAX_SECONDS


def test_a_partition_is_stalled_once_records_wait_past_an_unchanged_position_for_the_threshold() -> None:
    ends = {("t", 0): 10, ("t", 1): 7}
    name = f"unit-{id(ends)}"
    at = [(name, "t", 0, 7), (name, "t", 1, 7)]
    assert stalled_partitions(at, ends, 60, watched=(name,), now=1000.0) == []
    assert stalled_partitions(at, ends, 60, watched=(name,), now=1061.0) == [
        f"{name} stalled on t[0] at offset 7 for 61 s (3 records waiting)"
    ]  # partition 1 has nothing waiting
    moved = [(name, "t", 0, 8), (name, "t", 1, 7)]
    assert stalled_partitions(moved, ends, 60, watched=(name,), now=1062.0) == []  # it advanced: a new wait
    assert stalled_partitions(at, ends, 60, watched=("someone-else",), now=5000.0) == []


def test_the_rules_judge_losses_from_the_first_day_of_the_scheme() -> None:
    assert date(2014, 12, 1) == SCHEME_START
    assert judgeable_loss(date(2014, 12, 1)) and not judgeable_loss(date(2014, 11, 30))
    assert not judgeable_loss(date(1, 1, 1))
