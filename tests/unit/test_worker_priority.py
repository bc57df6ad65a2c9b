"""Workers yield the CPU to the API: every process but the API lowers its priority (IPE_WORKER_NICE)."""

from __future__ import annotations

import subprocess
import sys

import pytest

PROBE = """
import os
from ipe_claims.bootstrap import yield_to_the_api
from ipe_claims.settings import Settings
before = os.nice(0)
yield_to_the_api({process!r}, Settings.from_env({env!r}))
print(os.nice(0) - before)
"""


def raised_by(process: str, env: dict[str, str]) -> int:
    done = subprocess.run([sys.executable, "-c", PROBE.format(process=process, env=env)], capture_output=True,
                          text=True, check=True)  # fmt: skip
    return int(done.stdout)


@pytest.mark.parametrize("process", ["relay", "projector", "notifier", "ingress", "declarations", "sealer"])
def test_a_worker_runs_at_a_lower_priority(process: str) -> None:
    assert raised_by(process, {}) == 10
    assert raised_by(process, {"IPE_WORKER_NICE": "3"}) == 3


def test_the_api_keeps_its_priority_and_zero_turns_it_off() -> None:
    assert raised_by("api", {}) == 0
    assert raised_by("notifier", {"IPE_WORKER_NICE": "0"}) == 0
