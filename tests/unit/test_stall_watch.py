"""A member that polls and gets nothing while records wait starts over (``TrackedConsumer``): when to look,
and what counts as waiting."""

from __future__ import annotations

from kafka import TopicPartition

from ipe_claims.adapters.kafka import StallWatch, waiting
from tests.unit.fakes import Seconds

A, B, C = (TopicPartition("t", n) for n in range(3))


def test_the_watch_looks_after_a_quiet_spell_and_again_after_each_one() -> None:
    ticks = Seconds()
    watch = StallWatch(30, ticks)
    assert not watch.polled(False)  # the spell starts
    ticks.now += 29.9
    assert not watch.polled(False)
    ticks.now += 0.2
    assert watch.polled(False)  # 30 s of empty polls: look
    ticks.now += 10
    assert not watch.polled(False)  # the next look is 30 s after this one
    ticks.now += 20.1
    assert watch.polled(False)


def test_records_end_the_quiet_spell() -> None:
    ticks = Seconds()
    watch = StallWatch(30, ticks)
    watch.polled(False)
    ticks.now += 25
    assert not watch.polled(True)
    ticks.now += 25
    assert not watch.polled(False)  # a new spell, 0 s old
    ticks.now += 29
    assert not watch.polled(False)


def test_waiting_counts_records_past_the_stored_position_or_the_logs_beginning() -> None:
    stored = {A: 5, B: None}  # B's position refers to a log the broker lost; C was never consumed
    beginnings = {A: 0, B: 2, C: 10}
    assert waiting(stored, beginnings, {A: 5, B: 2, C: 10}) == {}  # all caught up, nothing to read
    assert waiting(stored, beginnings, {A: 8, B: 3, C: 14}) == {A: 3, B: 1, C: 4}
    assert waiting({A: 1}, {A: 4}, {A: 6}) == {A: 2}  # retention removed what lay before the position
