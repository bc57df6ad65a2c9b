"""The one long-running loop: transient faults are waited out with a doubling backoff, a stop ends it,
anything else propagates."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import psycopg
import pytest
from kafka.errors import KafkaConnectionError
from structlog.testing import capture_logs

from ipe_claims.adapters.loops import Connection, supervised


@pytest.fixture(autouse=True)
def logs() -> Iterator[list[dict[str, Any]]]:
    with capture_logs() as captured:
        yield captured


class RecordingStop(threading.Event):
    """A stop whose waits return at once and are kept, so a test sees the pauses without sleeping them."""

    def __init__(self) -> None:
        super().__init__()
        self.waits: list[float | None] = []

    def wait(self, timeout: float | None = None) -> bool:
        self.waits.append(timeout)
        return self.is_set()


class FakeDatabase:
    def __init__(self) -> None:
        self.opened: list[str] = []
        self.closed = 0

    @contextmanager
    def connect(self, url: str) -> Iterator[Any]:
        self.opened.append(url)
        try:
            yield object()
        finally:
            self.closed += 1


def steps(stop: RecordingStop, *outcomes: BaseException | float) -> Any:
    """A step that raises or returns each outcome in turn, then sets the stop."""
    queue = list(outcomes)

    def step(_: Connection) -> float:
        outcome = queue.pop(0)
        if not queue:
            stop.set()
        if isinstance(outcome, BaseException):
            raise outcome
        return outcome

    return step


def test_a_step_failing_twice_is_retried_after_a_doubling_pause_then_runs(logs: list[dict[str, Any]]) -> None:
    stop, db = RecordingStop(), FakeDatabase()
    step = steps(stop, psycopg.OperationalError("down"), psycopg.OperationalError("down"), 0.0)
    faults: list[Exception] = []
    supervised(
        step, stop, "test", database_url="postgresql://x/y", connect=db.connect, on_fault=faults.append
    )
    assert stop.waits == [0.5, 1.0]  # backoff(1), backoff(2); the success asks no pause
    assert db.opened == ["postgresql://x/y"] * 3 and db.closed == 3  # a fresh connection after each fault
    assert [type(f) for f in faults] == [psycopg.OperationalError] * 2
    assert [(e["event"], e["error"], e["faults"]) for e in logs] == [
        ("test.retry", "OperationalError", 1), ("test.retry", "OperationalError", 2)]  # fmt: skip


def test_a_success_resets_the_backoff_and_a_step_paces_itself() -> None:
    stop, db = RecordingStop(), FakeDatabase()
    down = KafkaConnectionError()
    step = steps(stop, down, down, 0.25, down, 0.0)
    supervised(step, stop, "test", database_url="", connect=db.connect)
    assert stop.waits == [0.5, 1.0, 0.25, 0.5]


def test_a_set_stop_ends_the_loop_without_connecting() -> None:
    stop, db = RecordingStop(), FakeDatabase()
    stop.set()
    supervised(steps(stop, 0.0), stop, "test", database_url="", connect=db.connect)
    assert db.opened == []


def test_the_step_runs_on_one_connection_until_stopped() -> None:
    stop, db = RecordingStop(), FakeDatabase()
    supervised(steps(stop, 0.0, 0.1, 0.0, 0.0), stop, "test", database_url="", connect=db.connect)
    assert len(db.opened) == 1 and stop.waits == [0.1]


def test_a_bug_propagates_and_closes_the_connection() -> None:
    stop, db = RecordingStop(), FakeDatabase()
    with pytest.raises(KeyError):
        supervised(steps(stop, KeyError("bug"), 0.0), stop, "test", database_url="", connect=db.connect)
    assert db.closed == 1 and stop.waits == []


def test_a_loop_whose_work_is_kept_safe_may_outlive_a_bug(logs: list[dict[str, Any]]) -> None:
    stop, db = RecordingStop(), FakeDatabase()
    supervised(steps(stop, KeyError("bug"), 0.0), stop, "test", database_url="", connect=db.connect,
               survive_bugs=True)  # fmt: skip
    assert stop.waits == [0.5] and len(db.opened) == 2
    assert [(e["event"], e["log_level"]) for e in logs] == [("test.error", "error")]
