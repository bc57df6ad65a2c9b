"""The chaos suite, short: a few hundred claims while each service, the embedded broker and Postgres are
killed; and on three Apache Kafka nodes while the leader of a claim-events partition is killed.

The long run is `make chaos` (tests/chaos). Set CHAOS_SEED to repeat a run.
"""

from __future__ import annotations

import os
import random
from pathlib import Path

import pytest

from ipe_claims.operations.kafka_jars import toolchain
from tests.chaos.scenario import Plan, run

pytestmark = pytest.mark.e2e


def test_nothing_lost_nothing_duplicated_under_faults(tmp_path: Path) -> None:
    seed = int(os.environ.get("CHAOS_SEED") or random.randrange(1_000_000))
    plan = Plan(seed, claims=300, kills_per_service=2, broker_restarts=1, postgres_restarts=1,
                settle_timeout=90, load_seconds=40, broker="embedded")  # fmt: skip
    faults: list[str] = []
    result = run(plan, tmp_path / "ipe", faults)
    print("\n".join(faults), result.table(), sep="\n")
    assert result.ok, f"seed {seed}\n" + result.table()
    rows = dict(result.rows)
    assert rows["fault: restart broker"] == rows["fault: restart postgres"] == "1"
    assert {name for name in rows if name.startswith("fault: kill ")} >= {
        f"fault: kill {service}" for service in ("api", "relay", "projector", "notifier")
    }
    assert int(rows["relay re-publications from the store"]) >= 1  # the broker came back empty
    assert int(rows["consumer partitions started over"]) >= 1  # positions in the lost log were dropped


@pytest.mark.skipif(not toolchain()[0], reason=f"no Apache Kafka here: {toolchain()[1]}")
def test_a_killed_leader_on_three_brokers_loses_nothing_and_decisions_resume(tmp_path: Path) -> None:
    seed = int(os.environ.get("CHAOS_SEED") or random.randrange(1_000_000))
    plan = Plan(seed, claims=300, kills_per_service=0, broker_restarts=0, postgres_restarts=0,
                settle_timeout=90, load_seconds=40, broker="apache", brokers=3, leader_kills=1)  # fmt: skip
    faults: list[str] = []
    result = run(plan, tmp_path / "ipe", faults)
    print("\n".join(faults), result.table(), sep="\n")
    assert result.ok, f"seed {seed}\n" + result.table()  # includes: a pause over plan.max_pause
    rows = dict(result.rows)
    assert rows["fault: kill leader"] == "1"
    assert rows["ingress messages lost with the broker"] == "0"  # the upstream's messages survive too
    assert rows["relay re-publications from the store"] == "0"  # the cluster kept its log
    assert rows["unclean.leader.election.enable (ipe.claim-events)"] == "false"
    assert int(rows["restarts seen: broker"]) == 1  # the supervisor brought the node back
    assert any(line.startswith("SIGKILL node ") for line in result.pauses)
