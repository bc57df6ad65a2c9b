"""`python -m tests.chaos --seed N --claims N --broker apache|embedded|auto`: the long chaos run; prints
its tables, the command and the seed; exits 1 on a problem.

On Apache Kafka (three nodes) the faults are the cluster's (leaders, the group coordinator, a rolling
restart, a wiped node); on the embedded broker, services, broker and Postgres are killed and the broker
comes back empty. Either set can be widened with the flags.
"""

from __future__ import annotations

import argparse
import random
import sys
import tempfile
from pathlib import Path

from tests.chaos.scenario import Plan, run

# Per broker: service kills, broker restarts, Postgres restarts, leader kills, coordinator kills,
# rolling restarts, wipes, seconds the load is paced over. Faults on a cluster wait for it to be whole
# again (about 25 s each, 80 s for a rolling restart): they strike in the first 60 % of a longer load.
DEFAULTS = {
    "embedded": (3, 3, 2, 0, 0, 0, 0, 120.0),
    "apache": (0, 0, 0, 2, 1, 1, 1, 300.0),
}


def _broker(wanted: str) -> str:
    if wanted != "auto":
        return wanted
    from ipe_claims.operations.kafka_jars import toolchain

    usable, why = toolchain()
    print(f"chaos: {'Apache Kafka, three nodes' if usable else 'the embedded broker'} ({why})", flush=True)
    return "apache" if usable else "embedded"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seed", type=int, default=None, help="repeat a run with its seed")
    parser.add_argument("--claims", type=int, default=3000)
    parser.add_argument("--broker", choices=["auto", "apache", "embedded"], default="auto")
    parser.add_argument("--brokers", type=int, default=3, help="Apache Kafka nodes")
    names = ["kills", "broker_restarts", "postgres_restarts", "leader_kills", "coordinator_kills",
             "rolling_restarts", "wipes", "seconds"]  # fmt: skip
    for name in names:
        kind = float if name == "seconds" else int
        parser.add_argument(f"--{name.replace('_', '-')}", type=kind, default=None,
                            help="default depends on the broker (DEFAULTS)")  # fmt: skip
    args = parser.parse_args()
    broker = _broker(args.broker)
    values = {n: getattr(args, n) if getattr(args, n) is not None else d
              for n, d in zip(names, DEFAULTS[broker], strict=True)}  # fmt: skip
    seed = args.seed if args.seed is not None else random.randrange(1_000_000)
    brokers = args.brokers if broker == "apache" else 1
    plan = Plan(seed, args.claims, values["kills"], values["broker_restarts"], values["postgres_restarts"],
                load_seconds=values["seconds"], broker=broker, brokers=brokers,
                leader_kills=values["leader_kills"], coordinator_kills=values["coordinator_kills"],
                rolling_restarts=values["rolling_restarts"], wipes=values["wipes"],
                fault_window=0.6 if broker == "apache" else 0.9)  # fmt: skip
    command = f"make chaos BROKER={broker} SEED={seed} CLAIMS={plan.claims}"
    print(
        f"chaos: seed {seed}, {plan.claims} claims, broker {broker} x{brokers} (repeat: {command})",
        flush=True,
    )
    faults: list[str] = []
    with tempfile.TemporaryDirectory(prefix="ipe-chaos-") as tmp:
        result = run(plan, Path(tmp) / "ipe", faults)
    print(
        "\n".join(
            ["faults, in order:", *faults, "", result.table(), "", f"command: {command}", f"seed: {seed}"]
        )
    )
    return 0 if result.ok else 1


if __name__ == "__main__":
    sys.exit(main())
