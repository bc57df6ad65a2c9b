"""The system under benchmark: its own Postgres and broker in a temporary folder, the real service
processes (``python -m …`` with the environment ``ipe up`` gives them), and a sampler of their memory
and CPU from /proc."""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psycopg
from kafka import KafkaConsumer, TopicPartition

from ipe_claims.adapters.event_store import make_app
from ipe_claims.adapters.kafka import ensure_topics
from ipe_claims.adapters.migrations import migrate
from ipe_claims.application.claims import CLAIM_TOPICS
from ipe_claims.operations.local import LocalBroker, LocalPostgres, free_port, wait_for_port
from ipe_claims.operations.processes import SERVICES
from ipe_claims.settings import CLAIM_EVENTS_TOPIC, REPO_ROOT, TOPIC_PARTITIONS, Settings
from services.eligibility_projector.projector import CONSUMER_NAME as PROJECTOR
from services.notifier.notifier import CONSUMER_NAME as NOTIFIER

PORTAL = "bench-employer"  # the account the benchmark's Kafka submissions come from, on its own topic
PAGE_KB = os.sysconf("SC_PAGE_SIZE") / 1024
TICKS = os.sysconf("SC_CLK_TCK")


def rss_mb(pid: int) -> float | None:
    try:
        with open(f"/proc/{pid}/statm") as statm:
            return int(statm.read().split()[1]) * PAGE_KB / 1024
    except (OSError, ValueError, IndexError):
        return None


def _stat(pid: int | str) -> list[str]:
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().rsplit(") ", 1)[1].split()
    except (OSError, IndexError):
        return []


def cpu_seconds(pid: int) -> float:
    fields = _stat(pid)
    return (int(fields[11]) + int(fields[12])) / TICKS if fields else 0.0  # utime + stime


def tree_cpu_seconds(pid: int) -> float:
    """A server and its worker processes: its own time, its reaped children's, and its live children's
    (Postgres forks a backend per connection)."""
    fields = _stat(pid)
    if not fields:
        return 0.0
    own = sum(int(value) for value in fields[11:15]) / TICKS  # utime, stime, cutime, cstime
    children = [entry.name for entry in Path("/proc").iterdir() if entry.name.isdigit()]
    return own + sum(
        cpu_seconds(int(child)) for child in children if (f := _stat(child)) and f[1] == str(pid)
    )


@dataclass
class Memory:
    """Resident size of each service over the run: peak, first and last sample (flat = last ≈ first)."""

    peak: dict[str, float] = field(default_factory=dict)
    first: dict[str, float] = field(default_factory=dict)
    last: dict[str, float] = field(default_factory=dict)

    def sample(self, name: str, mb: float) -> None:
        self.peak[name] = max(self.peak.get(name, 0.0), mb)
        self.first.setdefault(name, mb)
        self.last[name] = mb

    def report(self) -> dict[str, dict[str, float]]:
        return {name: {"peak_rss_mb": round(self.peak[name], 1), "first_rss_mb": round(self.first[name], 1),
                       "last_rss_mb": round(self.last[name], 1)} for name in sorted(self.peak)}  # fmt: skip


class System:
    def __init__(self, home: Path) -> None:
        self.home = home
        self.logs = home / "logs"
        self.logs.mkdir(parents=True, exist_ok=True)
        self.postgres = LocalPostgres(home, free_port())
        self.broker = LocalBroker(self.logs, free_port())
        self.http_port = free_port()
        self.processes: dict[str, subprocess.Popen[bytes]] = {}
        self.memory = Memory()
        self._stop = threading.Event()
        self._sampler = threading.Thread(target=self._sample, daemon=True)
        self.settings: Settings

    def start(self) -> Settings:
        self.postgres.start()
        self.broker.start()
        self.settings = Settings().changed(
            database={"url": self.postgres.url},
            kafka={"bootstrap_servers": self.broker.bootstrap_servers, "fast_groups": True},
            home=self.home,
            http={"port": self.http_port},
        )
        migrate(self.settings.database.url)
        make_app(self.settings, create_tables=True).close()
        # The portal's own topic exists before the ingress starts: the measure leaves out the up to
        # PATTERN_REFRESH_MS the ingress takes to find a topic created later.
        ensure_topics(self.settings.kafka.bootstrap_servers, [PORTAL])
        self._sampler.start()
        return self.settings

    @property
    def env(self) -> dict[str, str]:
        """What the supervisor gives its children, plus a rate limit out of the benchmark's way."""
        return dict(os.environ) | {
            "DATABASE_URL": self.settings.database.url,
            "KAFKA_BOOTSTRAP_SERVERS": self.settings.kafka.bootstrap_servers,
            "IPE_KAFKA_FAST_GROUPS": "1",
            "IPE_HOME": str(self.home),
            "IPE_HTTP_PORT": str(self.http_port),
            "IPE_RATE_LIMIT_PER_MINUTE": str(10**9),
            "PYTHONPATH": str(REPO_ROOT),
        }

    def run(self, name: str, service: str | None = None) -> None:
        """Start service ``service`` (a key of the supervisor's SERVICES) as process ``name``."""
        module = SERVICES[service or name]
        with open(self.logs / f"{name}.log", "ab") as log:
            self.processes[name] = subprocess.Popen(
                [sys.executable, "-m", module], env=self.env, stdout=log, stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL, cwd=REPO_ROOT,
            )  # fmt: skip
        if (service or name) == "api":
            wait_for_port(self.http_port, timeout=60)

    def wait_ready(self, *names: str, timeout: float = 120) -> None:
        """Until each consumer named has joined its group (its log says so): a scenario starts warm."""
        for name in names:
            log = self.logs / f"{name}.log"
            wait_until(lambda log=log: log.exists() and b'"consumer.assigned"' in log.read_bytes(), timeout,
                       f"{name} to join its group", 0.1)  # fmt: skip

    def wait_drained(self, timeout: float = 600) -> float:
        """Until the relay has published every claim event and the projector and the notifier have
        consumed them all: a scenario then measures its own claims, not the previous one's backlog.
        Returns the seconds waited."""
        started = time.perf_counter()
        partitions = [
            TopicPartition(CLAIM_EVENTS_TOPIC, n) for n in range(TOPIC_PARTITIONS[CLAIM_EVENTS_TOPIC])
        ]
        consumer = KafkaConsumer(bootstrap_servers=self.settings.kafka.bootstrap_servers)
        try:

            def drained() -> bool:
                with self.connect() as conn:
                    head, relayed = conn.execute(
                        "SELECT (SELECT coalesce(max(notification_id), 0) FROM ipe_events WHERE topic = ANY(%s)), "
                        "(SELECT coalesce(max(last_notification_id), 0) FROM relay_positions)",
                        (list(CLAIM_TOPICS),),
                    ).fetchone() or (0, 0)
                    consumed = dict(conn.execute(
                        "SELECT consumer, sum(next_offset) FROM consumer_positions WHERE topic = %s GROUP BY consumer",
                        (CLAIM_EVENTS_TOPIC,)).fetchall())  # fmt: skip
                end = sum(consumer.end_offsets(partitions).values())
                return relayed >= head and all(consumed.get(name, 0) >= end for name in (PROJECTOR, NOTIFIER))

            wait_until(drained, timeout, "the pipeline to drain", 0.5)
        finally:
            consumer.close()
        return round(time.perf_counter() - started, 1)

    def halt(self, name: str) -> None:
        process = self.processes.pop(name, None)
        if process is None:
            return
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()

    def cpu(self) -> dict[str, float]:
        """CPU seconds so far of each service and of Postgres (all its backends)."""
        seconds = {name: cpu_seconds(process.pid) for name, process in self.processes.items()}
        with contextlib.suppress(OSError, ValueError):
            postmaster = int((self.postgres.data_dir / "postmaster.pid").read_text().split()[0])
            seconds["postgres"] = tree_cpu_seconds(postmaster)
        return seconds

    def cpu_since(self, before: dict[str, float]) -> dict[str, float]:
        """CPU seconds used by each service and Postgres since ``before`` (a ``cpu()`` reading)."""
        return {name: round(seconds - before.get(name, 0.0), 1) for name, seconds in self.cpu().items()}

    def _sample(self) -> None:
        while not self._stop.wait(0.5):
            for name, process in list(self.processes.items()):
                if process.poll() is None and (mb := rss_mb(process.pid)) is not None:
                    self.memory.sample(name.split("#")[0], mb)

    def died(self) -> list[str]:
        return [name for name, process in self.processes.items() if process.poll() is not None]

    def connect(self) -> psycopg.Connection[Any]:
        return psycopg.connect(self.settings.database.url, autocommit=True)

    def stop(self) -> None:
        self._stop.set()
        for name in list(self.processes):
            self.halt(name)
        self.broker.stop()
        self.postgres.discard()


def wait_until(probe: Any, timeout: float, what: str, every: float = 0.1) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if value := probe():
            return value
        time.sleep(every)
    raise TimeoutError(f"benchmark: timed out after {timeout:.0f}s waiting for {what}")
