"""The benchmark harness runs end to end at tiny sizes and writes every scenario with its baseline.

No figure is asserted (figures belong to ``make bench``): only that each scenario produced a positive
value and baseline, that the projectors decided every claim exactly once, and that memory was sampled.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from ipe_claims.settings import REPO_ROOT

pytestmark = pytest.mark.e2e

SCENARIOS = ("declarations_ingest", "declarations_kafka", "claims_kafka_e2e", "claims_http",
             "latency_p99_ms_at_50", "replay", "rules")  # fmt: skip


def test_bench_runs_at_tiny_sizes(tmp_path: Path) -> None:
    sizes = ["--insured", "150", "--kafka-rows", "240", "--kafka-claims", "20", "--http-claims", "16",
             "--latency-seconds", "1", "--rate", "20", "--scale-claims", "10", "--replay-events", "400",
             "--rules", "50"]  # fmt: skip
    done = subprocess.run([sys.executable, "-m", "bench", *sizes, "--out", str(tmp_path)], cwd=REPO_ROOT,
                          capture_output=True, text=True, timeout=240, check=False)  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    results = json.loads((tmp_path / "results.json").read_text())
    assert set(SCENARIOS) <= set(results["scenarios"])
    for name in SCENARIOS:
        entry = results["scenarios"][name]
        assert entry["value"] > 0 and entry["baseline"] > 0 and entry["ratio"] is not None, (name, entry)
    for run in results["scale_out"].values():
        assert run["decided"] == run["claims"] and run["decided_twice"] == 0, run
    assert {"api", "relay", "projector", "notifier", "ingress", "declarations"} <= set(results["memory"])
    assert results["died"] == []
    assert "| declarations_ingest |" in (tmp_path / "RESULTS.md").read_text()
