"""``ipe up``: local infrastructure (unless the environment points at real servers), migrations, topics,
demo data, then the service processes (SERVICES), restarted with backoff when they die.

All state lives under ``$IPE_HOME``: ``state.json`` (what runs where), ``ports.json``, ``logs/``, private to
its owner (``infra/private.py``).
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psycopg

from ipe_claims.adapters.kafka_identities import service_principal
from ipe_claims.operations import kafka_access
from ipe_claims.operations.kafka_cluster import ADMIN_USER, KafkaCluster, KafkaSecurity
from ipe_claims.operations.local import LocalBroker, LocalPostgres, free_port
from ipe_claims.operations.private import make_private, write_private
from ipe_claims.operations.processes import SERVICES

MAX_BACKOFF = 30.0


def state_path(home: Path) -> Path:
    return home / "state.json"


def read_state(home: Path) -> dict[str, Any] | None:
    try:
        state: dict[str, Any] = json.loads(state_path(home).read_text())
        return state
    except (OSError, ValueError):
        return None


def pid_alive(pid: int | None) -> bool:
    if not pid:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:  # a zombie child is dead for our purposes
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().split(") ", 1)[1][0] != "Z"
    except OSError:
        return True


def _ports(home: Path, kafka_nodes: int = 0) -> dict[str, int]:
    """Ports chosen once per home, so DATABASE_URL and the bootstrap address stay the same across restarts.

    ``kafka_nodes``: an Apache Kafka cluster's nodes, each with a broker and a controller port."""
    path = home / "ports.json"
    try:
        ports: dict[str, int] = json.loads(path.read_text())
    except (OSError, ValueError):
        ports = {}
    ports.setdefault("postgres", int(os.environ.get("IPE_PG_PORT") or free_port()))
    ports.setdefault("kafka", int(os.environ.get("IPE_KAFKA_PORT") or free_port()))
    for node in range(1, kafka_nodes + 1):
        ports.setdefault(f"kafka-{node}", free_port())
        ports.setdefault(f"kafka-controller-{node}", free_port())
    write_private(path, json.dumps(ports))
    return ports


@dataclass
class Child:
    name: str
    module: str
    process: subprocess.Popen[bytes] | None = None
    restarts: int = 0
    next_start: float = 0.0
    backoff: float = 1.0
    started_at: float = 0.0

    @property
    def state(self) -> str:
        if self.process is not None and self.process.poll() is None:
            return "running"
        return "restarting" if self.restarts else "starting"


@dataclass
class Supervisor:
    home: Path
    http_port: int
    env: dict[str, str] = field(default_factory=lambda: dict(os.environ))
    postgres: LocalPostgres | None = None
    broker: LocalBroker | None = None
    broker_kind: str = "embedded"  # or "apache": a KafkaCluster of broker_count nodes
    broker_count: int = 1
    cluster: KafkaCluster | None = None
    access: kafka_access.KafkaAccess | None = None  # the local Apache Kafka's identities (SASL/SCRAM)
    children: dict[str, Child] = field(default_factory=dict)
    infra_restarts: dict[str, int] = field(default_factory=lambda: {"postgres": 0, "broker": 0})

    def prepare(self) -> None:
        """Infrastructure, schema, topics and demo data: everything the services expect to find."""
        from ipe_claims.adapters.event_store import make_app
        from ipe_claims.adapters.kafka import ensure_topics
        from ipe_claims.adapters.migrations import migrate
        from ipe_claims.operations.demo import is_seeded, seed
        from ipe_claims.settings import Settings

        (self.home / "logs").mkdir(parents=True, exist_ok=True)
        ports = _ports(self.home, self.broker_count if self.broker_kind == "apache" else 0)
        if not self.env.get("DATABASE_URL"):
            self.postgres = LocalPostgres(self.home, ports["postgres"])
            self.postgres.start()
            self.env["DATABASE_URL"] = self.postgres.url
        if not self.env.get("KAFKA_BOOTSTRAP_SERVERS"):
            self.env["KAFKA_BOOTSTRAP_SERVERS"] = self._start_broker(ports)
            self.env["IPE_KAFKA_FAST_GROUPS"] = "1"  # the local brokers accept short group timeouts
        self.env["IPE_HOME"] = str(self.home)
        self.env["IPE_HTTP_PORT"] = str(self.http_port)
        settings = Settings.from_env(self.env)
        migrate(settings.database.url)
        make_app(
            settings, create_tables=True
        ).close()  # creates the event store's tables once, before the services race to
        admin_options = self.access.options(ADMIN_USER) if self.access else settings.kafka_options()
        ensure_topics(settings.kafka.bootstrap_servers, **admin_options)
        if self.access:  # each service as its own principal, with only the ACLs it needs
            kafka_access.provision(settings.kafka.bootstrap_servers, self.access, SERVICES)
        # Demo accounts have published passwords: only a local database gets them, unless asked.
        wants_demo = self.postgres is not None or self.env.get("IPE_DEMO_DATA") == "1"
        with psycopg.connect(settings.database.url, autocommit=True) as conn:
            if wants_demo and not is_seeded(conn):
                seed(conn, settings.clock().today())
        self.children = {name: Child(name, module) for name, module in SERVICES.items()}

    def _start_broker(self, ports: dict[str, int]) -> str:
        """The local broker or cluster asked for; its bootstrap address."""
        if self.broker_kind == "apache":
            from ipe_claims.operations.kafka_jars import fetch

            nodes = range(1, self.broker_count + 1)
            self.access = kafka_access.load_or_create(self.home, SERVICES)
            self.cluster = KafkaCluster(
                self.home / "kafka",
                fetch(),
                [(ports[f"kafka-{n}"], ports[f"kafka-controller-{n}"]) for n in nodes],
                KafkaSecurity(self.access.admin_password),
            )
            self.cluster.start()
            return self.cluster.bootstrap_servers
        self.broker = LocalBroker(self.home / "logs", ports["kafka"])
        self.broker.start()
        return self.broker.bootstrap_servers

    def _start(self, child: Child) -> None:
        log = open(self.home / "logs" / f"{child.name}.log", "ab")  # noqa: SIM115 - the child owns it
        own = self.access.env(service_principal(child.name)) if self.access else {}
        child.process = subprocess.Popen(
            [sys.executable, "-m", child.module],
            env=self.env | own,
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
        )
        log.close()
        child.started_at = time.monotonic()

    def _recreate_topics(self) -> None:
        """The embedded broker came back empty, and it creates a topic a client asks about with 4 partitions
        whatever the client says (Tansu 0.6 ignores ``allow_auto_topic_creation``): create the topics with
        their partition counts at once, before a consumer's metadata request does. The relay would, within 5 s."""
        from kafka.errors import KafkaError

        from ipe_claims.adapters.kafka import ensure_topics

        assert self.broker is not None
        try:
            ensure_topics(self.broker.bootstrap_servers)
        except KafkaError:
            return  # the relay creates them when it next publishes

    def revive_infrastructure(self) -> None:
        """Restart a local broker, Kafka node or Postgres that died, on the same ports (the embedded broker
        comes back empty; a Kafka node with its data, catching up from the others)."""
        if self.broker and self.broker.process and self.broker.process.poll() is not None:
            self.broker.process = None
            self.broker.start()
            self.infra_restarts["broker"] += 1
            self._recreate_topics()
        for node in self.cluster.nodes if self.cluster else []:
            if node.process is not None and node.process.poll() is not None:
                assert self.cluster is not None
                self.cluster.start_node(node.node_id)  # no wait: the services ride out an election
                self.infra_restarts["broker"] += 1
        if self.postgres and not pid_alive(self.postgres.pid()):
            try:
                self.postgres.start()
            except (subprocess.CalledProcessError, psycopg.OperationalError):
                return  # e.g. the old server's memory not yet released: next tick tries again
            self.infra_restarts["postgres"] += 1

    def tick(self) -> None:
        """Start what should run; restart what died, waiting longer after each quick death."""
        self.revive_infrastructure()
        now = time.monotonic()
        for child in self.children.values():
            if child.process is not None and child.process.poll() is None:
                if now - child.started_at > 60:
                    child.backoff = 1.0  # it stayed up: forget earlier crashes for the backoff
                continue
            if child.process is not None:  # it died
                child.process = None
                child.restarts += 1
                child.next_start = now + child.backoff
                child.backoff = min(child.backoff * 2, MAX_BACKOFF)
            if now >= child.next_start:
                self._start(child)

    def write_state(self, phase: str) -> None:
        state = {
            "phase": phase,
            "supervisor_pid": os.getpid(),
            "home": str(self.home),
            "http_url": f"http://127.0.0.1:{self.http_port}",
            "database_url": self.env.get("DATABASE_URL"),
            "kafka_bootstrap_servers": self.env.get("KAFKA_BOOTSTRAP_SERVERS"),
            "kafka_security": self._kafka_security(),
            "postgres": {
                "local": self.postgres is not None,
                "data_dir": str(self.postgres.data_dir) if self.postgres else None,
                "pid": self.postgres.pid() if self.postgres else None,
                "restarts": self.infra_restarts["postgres"],
            },
            "broker": {
                "local": self.broker is not None or self.cluster is not None,
                "kind": self.broker_kind if self.broker or self.cluster else "external",
                "pid": self.broker.process.pid if self.broker and self.broker.process else None,
                "restarts": self.infra_restarts["broker"],
            },
            "brokers": self._brokers(),
            "services": {
                name: {
                    "state": child.state if phase == "running" else phase,
                    "pid": child.process.pid if child.process and child.process.poll() is None else None,
                    "restarts": child.restarts,
                }
                for name, child in self.children.items()
            },
        }
        tmp = state_path(self.home).with_suffix(".tmp")
        write_private(tmp, json.dumps(state, indent=2))  # it holds DATABASE_URL, password included
        tmp.replace(state_path(self.home))

    def _kafka_security(self) -> str:
        """What the broker enforces: SASL_PLAINTEXT (SCRAM, ACLs) or PLAINTEXT (anyone may do anything)."""
        return self.access.protocol if self.access else self.env.get("KAFKA_SECURITY_PROTOCOL", "PLAINTEXT")

    def _brokers(self) -> list[dict[str, Any]]:
        if self.cluster:
            return self.cluster.brokers()
        if self.broker:
            running = self.broker.process is not None and self.broker.process.poll() is None
            pid = self.broker.process.pid if running and self.broker.process else None
            return [{"id": 1, "address": self.broker.bootstrap_servers,
                     "state": "running" if running else "stopped", "pid": pid}]  # fmt: skip
        servers = self.env.get("KAFKA_BOOTSTRAP_SERVERS") or ""
        return [{"id": None, "address": a, "state": "external", "pid": None} for a in servers.split(",") if a]

    def stop(self) -> None:
        for child in self.children.values():
            if child.process is not None and child.process.poll() is None:
                child.process.terminate()
        deadline = time.monotonic() + 15
        for child in self.children.values():
            if child.process is None:
                continue
            try:
                child.process.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                child.process.kill()
                child.process.wait()
                print(f"supervisor: {child.name} did not stop within 15 s of SIGTERM: killed", file=sys.stderr,
                      flush=True)  # fmt: skip
        if self.broker:
            self.broker.stop()
        if self.cluster:
            self.cluster.stop()
        if self.postgres:
            self.postgres.stop()

    def run(self) -> None:
        stop = threading.Event()
        for signum in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
            signal.signal(signum, lambda *_: stop.set())
        make_private(self.home)  # logs, state (with the database password), backups: the owner's alone
        self.write_state("starting")
        try:
            self.prepare()
            while not stop.is_set():
                self.tick()
                self.write_state("running")
                stop.wait(0.5)
        finally:
            self.write_state("stopping")
            self.stop()
            self.write_state("stopped")
