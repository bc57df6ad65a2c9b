"""A whole system started with `ipe up --detach` in a home of its own, and the faults we inflict on it.

Every fault goes through what an operator has: the pids in `ipe status --json`, SIGKILL, and the local
Postgres's own `pg_ctl`. The supervisor brings back what dies (services, the broker, Postgres).
"""

from __future__ import annotations

import csv
import json
import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from ipe_claims.operations.local import LocalPostgres, free_port
from ipe_claims.operations.supervisor import pid_alive

IPE = [sys.executable, "-m", "ipe_claims.entrypoints.cli"]
DECLARATION_HEADER = [
    "affiliation_number",
    "immatriculation",
    "cin",
    "nom",
    "prenoms",
    "period",
    "days",
    "salary",
]


@dataclass
class ChaosSystem:
    home: Path
    env: dict[str, str]

    broker: str = "embedded"

    @classmethod
    def start(
        cls, home: Path, extra_env: dict[str, str] | None = None, broker: str = "embedded", brokers: int = 1
    ) -> ChaosSystem:
        """``broker``: ``embedded`` (memory only, comes back empty) or ``apache`` (``brokers`` nodes)."""
        env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "KAFKA_BOOTSTRAP_SERVERS")}
        env |= {
            "IPE_HOME": str(home),
            "IPE_HTTP_PORT": str(free_port()),
            "IPE_PG_PORT": str(free_port()),
            "IPE_KAFKA_PORT": str(free_port()),
            "IPE_RATE_LIMIT_PER_MINUTE": "1000000",  # the load is one account: measure faults, not quotas
        } | (extra_env or {})
        system = cls(home, env, broker)
        up = system.ipe("up", "--detach", "--broker", broker, "--brokers", str(brokers))
        if up.returncode != 0:
            raise RuntimeError(f"ipe up failed: {up.stdout}{up.stderr}")
        return system

    def ipe(self, *args: str, timeout: float = 600) -> subprocess.CompletedProcess[str]:
        return subprocess.run([*IPE, *args], env=self.env, capture_output=True, text=True, timeout=timeout)

    def status(self) -> dict[str, Any]:
        return json.loads((self.home / "state.json").read_text())  # type: ignore[no-any-return]

    @property
    def url(self) -> str:
        return str(self.status()["http_url"])

    @property
    def database_url(self) -> str:
        return str(self.status()["database_url"])

    def stop(self) -> None:
        state = self.status()
        self.ipe("down")
        pids = [state["supervisor_pid"], state["postgres"]["pid"], state["broker"]["pid"]]
        pids += [service["pid"] for service in state["services"].values()]
        pids += [node["pid"] for node in state.get("brokers", [])]
        for pid in pids:  # only what this system started, by pid
            if pid_alive(pid):
                os.kill(pid, signal.SIGKILL)
        data_dir = state["postgres"]["data_dir"]
        if data_dir:
            import shutil

            shutil.rmtree(data_dir, ignore_errors=True)

    # --- reference data and accounts, the way an operator loads them ---

    def load_declarations(self, path: Path, rows: list[list[Any]]) -> None:
        with path.open("w", newline="") as handle:
            writer = csv.writer(handle)
            writer.writerow(DECLARATION_HEADER)
            writer.writerows(rows)
        loaded = self.ipe("declarations", "load", str(path))
        if loaded.returncode != 0:
            raise RuntimeError(loaded.stdout + loaded.stderr)

    def create_employer(self, username: str, password: str, affiliations: list[str]) -> None:
        args = ["accounts", "create", "--username", username, "--password", password]
        for affiliation in affiliations:
            args += ["--affiliation", affiliation]
        created = self.ipe(*args)
        if created.returncode != 0:
            raise RuntimeError(created.stdout + created.stderr)

    def create_portal(self, name: str, password: str, affiliations: list[str]) -> None:
        args = ["portals", "create", name, "--password", password]
        for affiliation in affiliations:
            args += ["--affiliation", affiliation]
        created = self.ipe(*args)
        if created.returncode != 0:
            raise RuntimeError(created.stdout + created.stderr)

    def token(self, username: str, password: str, deadline: float) -> str:
        while True:
            try:
                response = httpx.post(f"{self.url}/api/v1/auth/token",
                                      json={"username": username, "password": password}, timeout=10)  # fmt: skip
                if response.status_code == 200:
                    return str(response.json()["access_token"])
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                raise TimeoutError("no token")
            time.sleep(0.5)

    # --- faults ---

    def kill_service(self, name: str) -> None:
        """SIGKILL the service's process, once the supervisor has it running (it may be in backoff)."""
        self._wait(lambda: pid_alive(self.status()["services"][name]["pid"]), f"{name} to run")
        os.kill(self.status()["services"][name]["pid"], signal.SIGKILL)

    def log_count(self, needle: str) -> int:
        """How many log lines mention ``needle`` (evidence that a recovery path really ran)."""
        return sum(
            path.read_text(errors="replace").count(needle) for path in (self.home / "logs").glob("*.log")
        )

    def stacks(self, name: str) -> str:
        """What the service's threads are doing: its stacks, written to its log on SIGUSR1 (frames of this
        project and of kafka-python only, compact: a diagnosis to print with a failure)."""
        log_path = self.home / "logs" / f"{name}.log"
        size = log_path.stat().st_size if log_path.exists() else 0
        last = log_path.read_text(errors="replace").splitlines()[-8:] if size else []
        pid = self.status()["services"][name]["pid"]
        if not pid_alive(pid):
            return f"{name}: not running"
        os.kill(pid, signal.SIGUSR1)
        time.sleep(1.0)
        with log_path.open(errors="replace") as log:
            log.seek(size)
            dumped = log.read()
        kept = [line.strip() for line in dumped.splitlines()
                if line.startswith(("Thread ", "Current thread")) or "ipe_claims" in line
                or "/services/" in line or "/kafka/" in line]  # fmt: skip
        return "\n".join(
            [f"{name}, its last log lines:", *(line[:240] for line in last), f"{name}'s stacks:", *kept]
        )

    def kill_broker(self) -> None:
        """The local broker keeps everything in memory: after this it comes back empty."""
        state = self.status()
        pid = state["broker"]["pid"]
        restarts = state["broker"]["restarts"]
        if pid_alive(pid):
            os.kill(pid, signal.SIGKILL)
        self._wait(lambda: self.status()["broker"]["restarts"] > restarts, "the broker to come back")

    def crash_postgres(self) -> None:
        """An immediate stop: clients lose their connections, the next start runs crash recovery."""
        state = self.status()
        restarts = state["postgres"]["restarts"]
        port = int(state["database_url"].rsplit(":", 1)[1].split("/")[0])
        LocalPostgres(Path(state["home"]), port).stop(mode="immediate")
        self._wait(lambda: self.status()["postgres"]["restarts"] > restarts, "Postgres to come back")

    @staticmethod
    def _wait(probe: Any, what: str, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while not probe():
            if time.monotonic() > deadline:
                raise TimeoutError(f"timed out waiting for {what}")
            time.sleep(0.1)
