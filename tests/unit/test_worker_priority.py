"""Processes take a CPU priority by who waits on them: the API first, the decision path next, side work
last (IPE_NICE_STEP)."""

from __future__ import annotations

import subprocess
import sys

import pytest

PROBE = """
import os
from ipe_claims.entrypoints.bootstrap import take_priority
from ipe_claims.settings import Settings
before = os.nice(0)
take_priority({process!r}, Settings.from_env({env!r}))
print(before, os.nice(0))
"""


def lowered_by(process: str, env: dict[str, str]) -> int:
    """How much lower the process's priority went, as if it started at nice 0 (the kernel stops at 19)."""
    done = subprocess.run([sys.executable, "-c", PROBE.format(process=process, env=env)], capture_output=True,
                          text=True, check=True)  # fmt: skip
    before, after = map(int, done.stdout.split())
    return after - before if after < 19 else 19


@pytest.mark.parametrize("process", ["relay", "projector", "ingress"])
def test_the_decision_path_yields_to_the_api(process: str) -> None:
    assert lowered_by(process, {}) == 10
    assert lowered_by(process, {"IPE_NICE_STEP": "3"}) == 3


@pytest.mark.parametrize("process", ["notifier", "declarations", "sealer"])
def test_side_work_yields_to_the_decision_path(process: str) -> None:
    assert lowered_by(process, {}) == 19  # twice the step, as far as the kernel goes
    assert lowered_by(process, {"IPE_NICE_STEP": "3"}) == 6


def test_the_api_keeps_its_priority_and_a_zero_step_turns_it_off() -> None:
    assert lowered_by("api", {}) == 0
    assert lowered_by("notifier", {"IPE_NICE_STEP": "0"}) == 0
