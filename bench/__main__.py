"""``python -m bench`` (``make bench``): start a private system, run every scenario, write
``bench/results.json`` and ``bench/RESULTS.md``. Every figure sits next to a baseline measured in the
same run on the same machine, and their ratio; figures live here, never in tests."""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import platform
import shutil
import signal
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bench import claims, declarations, offline
from bench.data import affiliations, workers
from bench.report import markdown
from bench.system import System

HERE = Path(__file__).resolve().parent


def arguments(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    size = parser.add_argument
    size(
        "--insured",
        type=int,
        default=34000,
        help="workers with 36-month histories loaded by CSV (rows = 36 x)",
    )
    size("--kafka-rows", type=int, default=1_000_000, help="declaration lines on cnss.declarations")
    size("--kafka-claims", type=int, default=20_000, help="claims through the Kafka ingress at saturation")
    size("--http-claims", type=int, default=5000, help="claims over HTTP, 16 concurrent clients")
    size("--latency-seconds", type=float, default=60.0, help="how long to submit at the fixed rate")
    size("--rate", type=float, default=50.0, help="the fixed submission rate for the latency scenario")
    size("--scale-claims", type=int, default=3000, help="backlog per projector-count run (1, then 2)")
    size("--replay-events", type=int, default=200_000, help="claim events in the store for the replay")
    size("--rules", type=int, default=20_000, help="36-month histories decided by the pure rules")
    size("--out", type=Path, default=HERE, help="folder for results.json and RESULTS.md")
    parser.add_argument(
        "--only",
        type=lambda text: set(text.split(",")),
        default=None,
        help="comma-separated scenarios to run (declarations_ingest always runs: it loads the workers)",
    )
    return parser.parse_args(argv)


def machine() -> dict[str, Any]:
    model = ""
    with contextlib.suppress(OSError, StopIteration):
        model = next(line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                     if line.startswith("model name"))  # fmt: skip
    return {"cpus": os.cpu_count(), "cpu_model": model, "python": platform.python_version(),
            "platform": platform.platform(), "load_average_at_start": os.getloadavg(),
            "started_at": datetime.now(UTC).isoformat(timespec="seconds")}  # fmt: skip


def finish(entry: dict[str, Any]) -> dict[str, Any]:
    entry["value"] = round(entry["value"], 1)
    entry["baseline"] = round(entry["baseline"], 1)
    entry["ratio"] = round(entry["value"] / entry["baseline"], 3) if entry["baseline"] else None
    return entry


def run(args: argparse.Namespace) -> dict[str, Any]:
    needed = (
        args.kafka_claims + args.http_claims + int(args.latency_seconds * args.rate) + 2 * args.scale_claims
    )
    if needed > args.insured:
        raise SystemExit(f"--insured must be at least {needed}: every claim needs a worker of its own")
    home = Path(tempfile.mkdtemp(prefix="ipe-bench-"))
    system = System(home)
    results: dict[str, Any] = {
        "machine": machine(),
        "sizes": vars(args) | {"out": str(args.out)},
        "scenarios": {},
    }
    scenarios = results["scenarios"]
    clock = time.perf_counter()

    def step(name: str) -> None:
        print(f"[bench {time.perf_counter() - clock:6.1f}s] {name}", file=sys.stderr, flush=True)

    finished = False
    drained: dict[str, float] = {}  # seconds spent waiting for the previous scenario's backlog

    def wanted(name: str) -> bool:
        if args.only is not None and name not in args.only:
            return False
        if name.startswith(("claims", "latency", "scale")):
            drained[name] = system.wait_drained()
        step(name)
        return True

    try:
        system.start()
        step("declarations_ingest")
        scenarios["declarations_ingest"] = finish(declarations.ingest(system, args.insured, home))
        for name in ("api", "relay", "projector", "notifier", "ingress"):
            system.run(name)
        system.wait_ready("projector", "notifier", "ingress")
        if wanted("declarations_kafka"):
            scenarios["declarations_kafka"] = finish(
                declarations.kafka(system, args.kafka_rows, args.insured)
            )
        token = claims.prepare(system, affiliations())
        people = workers(args.insured)
        cut = args.kafka_claims
        if wanted("claims_kafka_e2e"):
            scenarios["claims_kafka_e2e"] = finish(claims.kafka_e2e(system, people[:cut]))
        if wanted("claims_http"):
            scenarios["claims_http"] = finish(
                claims.http(system, people[cut : cut + args.http_claims], token)
            )
        cut += args.http_claims
        at_rate = int(args.latency_seconds * args.rate)
        if wanted("latency_p99_ms_at_50"):
            scenarios["latency_p99_ms_at_50"] = finish(
                claims.latency_at(system, people[cut : cut + at_rate], args.rate)
            )
        cut += at_rate
        halves = (
            people[cut : cut + args.scale_claims],
            people[cut + args.scale_claims : cut + 2 * args.scale_claims],
        )
        if wanted("scale_out"):
            results["scale_out"] = claims.scale_out(system, halves)
        results["died"] = system.died()
        results["drain_seconds_before"] = drained
        for name in list(system.processes):
            system.halt(name)
        results["memory"] = system.memory.report()
        if wanted("replay"):
            scenarios["replay"] = finish(offline.replay(system, args.replay_events))
        if wanted("rules"):
            scenarios["rules"] = finish(offline.rules(args.rules))
        finished = True
    finally:
        system.stop()
        results["machine"]["load_average_at_end"] = os.getloadavg()
        results["machine"]["seconds"] = round(time.perf_counter() - clock, 1)
        if finished:
            shutil.rmtree(home, ignore_errors=True)
        else:
            print(f"[bench] failed: the services' logs are kept in {system.logs}", file=sys.stderr)
    return results


def main(argv: list[str] | None = None) -> None:
    args = arguments(argv)
    # A terminated run still stops its services, broker and Postgres (the finally in run()).
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    results = run(args)
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "results.json").write_text(json.dumps(results, indent=2, default=str) + "\n")
    (args.out / "RESULTS.md").write_text(markdown(results))
    print(markdown(results))


if __name__ == "__main__":
    main()
