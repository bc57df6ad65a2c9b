"""Memory an API process holds under a burst of failed logins (issue 13, point 7).

Sends ``--count`` concurrent logins with wrong passwords (half for a real account, half for invented
names) to a running API and prints the API process's resident memory before, at its peak (VmHWM) and
after. Run against `ipe up`:  python bench/login_burst.py --url http://127.0.0.1:PORT --pid API_PID
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import time
import uuid

import httpx


def memory_kib(pid: int) -> dict[str, int]:
    fields = {}
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            name, _, value = line.partition(":")
            if name in ("VmRSS", "VmHWM"):
                fields[name] = int(value.split()[0])
    return fields


async def burst(url: str, count: int, account: str) -> collections.Counter[int]:
    limits = httpx.Limits(max_connections=count, max_keepalive_connections=0)
    async with httpx.AsyncClient(base_url=url, timeout=120, limits=limits) as client:

        async def one(n: int) -> int:
            name = account if n % 2 else f"nobody-{uuid.uuid4().hex[:12]}"
            response = await client.post(
                "/api/v1/auth/token", json={"username": name, "password": "wrong-password"}
            )
            return response.status_code

        return collections.Counter(await asyncio.gather(*(one(n) for n in range(count))))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--url", required=True)
    parser.add_argument("--pid", type=int, required=True, help="the API process")
    parser.add_argument("--count", type=int, default=200)
    parser.add_argument("--account", default="demo")
    args = parser.parse_args()
    before = memory_kib(args.pid)
    started = time.monotonic()
    statuses = asyncio.run(burst(args.url, args.count, args.account))
    elapsed = time.monotonic() - started
    time.sleep(2)
    after = memory_kib(args.pid)
    print(
        f"{args.count} concurrent failed logins in {elapsed:.1f} s: answers {dict(sorted(statuses.items()))}"
    )
    print(
        f"API RSS before {before['VmRSS'] / 1024:.0f} MiB, peak (VmHWM) {after['VmHWM'] / 1024:.0f} MiB, "
        f"after {after['VmRSS'] / 1024:.0f} MiB (peak before the burst: {before['VmHWM'] / 1024:.0f} MiB)"
    )


if __name__ == "__main__":
    main()
