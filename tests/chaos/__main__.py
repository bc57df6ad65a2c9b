"""`python -m tests.chaos --seed N --claims N`: the long chaos run; prints its table, exits 1 on a problem."""

from __future__ import annotations

import argparse
import random
import sys
import tempfile
from pathlib import Path

from tests.chaos.scenario import Plan, run


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seed", type=int, default=None, help="repeat a run with its seed")
    parser.add_argument("--claims", type=int, default=3000)
    parser.add_argument("--kills", type=int, default=3, help="SIGKILLs per service")
    parser.add_argument("--broker-restarts", type=int, default=3)
    parser.add_argument("--postgres-restarts", type=int, default=2)
    parser.add_argument("--seconds", type=float, default=120.0, help="how long the load is paced over")
    args = parser.parse_args()
    seed = args.seed if args.seed is not None else random.randrange(1_000_000)
    plan = Plan(seed, args.claims, args.kills, args.broker_restarts, args.postgres_restarts,
                load_seconds=args.seconds)  # fmt: skip
    print(f"chaos: seed {seed}, {plan.claims} claims (repeat with SEED={seed})", flush=True)
    faults: list[str] = []
    with tempfile.TemporaryDirectory(prefix="ipe-chaos-") as tmp:
        result = run(plan, Path(tmp) / "ipe", faults)
    print("\n".join(["faults, in order:", *faults, "", result.table()]))
    return 0 if result.ok else 1


if __name__ == "__main__":
    sys.exit(main())
