"""The pause table's arithmetic: the longest gap between decisions after each fault."""

from __future__ import annotations

from tests.chaos.pauses import Strike, baseline, pauses


def test_the_pause_is_the_longest_gap_from_the_fault_until_the_next_one() -> None:
    kill, restart = Strike("kill", at=10.0, accepted=5), Strike("restart", at=30.0, accepted=9)
    seen = [8.0, 9.0, 10.5, 11.0, 23.0, 24.0, 30.5, 31.0]
    first, second = pauses([kill, restart], seen)
    assert round(first.longest or 0, 1) == 12.0  # 11.0 -> 23.0
    assert round(first.back_after or 0, 1) == 13.0  # decisions again 13 s after the kill
    assert round(second.longest or 0, 1) == 0.5


def test_a_fault_before_any_decision_counts_from_the_fault() -> None:
    (only,) = pauses([Strike("kill", at=10.0, accepted=5)], [2.0, 25.0, 25.5])
    assert only.longest == 15.0 and only.back_after == 15.0


def test_nothing_left_to_decide_is_no_pause() -> None:
    (late,) = pauses([Strike("wipe", at=50.0, accepted=800)], [10.0, 20.0])
    assert late.longest is None


def test_the_baseline_is_the_longest_gap_before_the_first_fault() -> None:
    assert baseline([Strike("kill", at=10.0, accepted=1)], [1.0, 1.5, 3.5, 4.0, 12.0]) == 2.0
