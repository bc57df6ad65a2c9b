"""Faults aimed at the Apache Kafka cluster of `ipe up --broker apache --brokers 3`.

The supervisor owns the nodes and restarts one that dies, as a service manager would; these faults go
through what an operator has: the pids in `ipe status --json`, signals, and the cluster's admin API to
find whom to hit (the leader of a partition, a group's coordinator). A wipe pauses the supervisor
(SIGSTOP) while the node is down, as an operator stops the service manager's restarts to replace a disk.
"""

from __future__ import annotations

import json
import os
import signal
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TypeVar

from kafka.errors import KafkaError

from ipe_claims.operations import kafka_access
from ipe_claims.operations.kafka_cluster import KafkaCluster, KafkaSecurity
from ipe_claims.operations.kafka_jars import libs_dir
from ipe_claims.operations.supervisor import pid_alive
from ipe_claims.settings import CLAIM_EVENTS_TOPIC
from services.eligibility_projector.projector import CONSUMER_NAME as PROJECTOR_GROUP
from tests.chaos.system import ChaosSystem

T = TypeVar("T")
Mark = Callable[[str], None]  # records "this fault strikes now", for the pause table


@dataclass
class KafkaFaults:
    system: ChaosSystem
    cluster: KafkaCluster  # a view on the supervisor's cluster: same folders and ports, no processes
    restarting: dict[int, int] = field(default_factory=dict)  # node -> times it had started before the fault

    @classmethod
    def of(cls, system: ChaosSystem) -> KafkaFaults:
        home = system.home
        ports = json.loads((home / "ports.json").read_text())
        count = len(system.status()["brokers"])
        nodes = [(ports[f"kafka-{n}"], ports[f"kafka-controller-{n}"]) for n in range(1, count + 1)]
        access = kafka_access.load(home)  # the admin's credential where `ipe up` secured the cluster
        security = KafkaSecurity(access.admin_password) if access else None  # `ipe up` listens SASL_PLAINTEXT
        return cls(system, KafkaCluster(home / "kafka", libs_dir(), nodes, security))

    def _pid(self, node_id: int) -> int | None:
        for node in self.system.status()["brokers"]:
            if node["id"] == node_id and node["state"] == "running":
                return int(node["pid"])
        return None

    def _retry(self, call: Callable[[], T], timeout: float = 60) -> T:
        """Admin calls during an election can fail (no leader, coordinator moving): ask again."""
        deadline = time.monotonic() + timeout
        while True:
            try:
                return call()
            except (KafkaError, OSError, IndexError):
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.5)

    def _started(self, node_id: int) -> int:
        """How many times the node has finished starting (its log is kept across restarts). Until the
        new one has, the old one may still count as in sync: the controller waits for its heartbeats
        for broker.session.timeout.ms before it fences it."""
        log = self.cluster.node(node_id).folder / "broker.log"
        return log.read_text(errors="replace").count(
            f"[BrokerServer id={node_id}] Transition from STARTING to STARTED"
        )

    def _signal(self, node_id: int, sig: int, mark: Mark, label: str) -> None:
        """Send ``sig`` to a running node, then wait until the supervisor has started it again."""
        self.system._wait(lambda: self._pid(node_id) is not None, f"Kafka node {node_id} to run")
        pid = self._pid(node_id)
        assert pid is not None
        self.restarting[node_id] = self._started(node_id)
        mark(label)
        os.kill(pid, sig)
        self.system._wait(lambda: self._pid(node_id) not in (None, pid), f"node {node_id} back")

    def kill_leader(self, partition: int, mark: Mark) -> None:
        leaders = self._retry(lambda: self.cluster.leaders(CLAIM_EVENTS_TOPIC))
        node = leaders[partition]
        led = sum(1 for leader in leaders.values() if leader == node)
        self._signal(node, signal.SIGKILL, mark,
                     f"SIGKILL node {node}: leader of {CLAIM_EVENTS_TOPIC}/{partition} ({led} of {len(leaders)})")  # fmt: skip

    def kill_coordinator(self, mark: Mark) -> None:
        node = self._retry(lambda: self.cluster.coordinator(PROJECTOR_GROUP))
        leaders = self._retry(lambda: self.cluster.leaders(CLAIM_EVENTS_TOPIC))
        led = sum(1 for leader in leaders.values() if leader == node)
        self._signal(node, signal.SIGKILL, mark,
                     f"SIGKILL node {node}: coordinator of {PROJECTOR_GROUP} (and {led} leaders)")  # fmt: skip

    def rolling_restart(self, mark: Mark, in_sync: Callable[[], None]) -> None:
        """Every node in turn: SIGTERM (a controlled shutdown moves its leaders away first), the
        supervisor starts it again, and the next one waits until every replica is back in sync."""
        for node in self.cluster.nodes:
            self._signal(node.node_id, signal.SIGTERM, mark, f"rolling restart: SIGTERM node {node.node_id}")
            in_sync()

    def wipe(self, node_id: int, mark: Mark) -> None:
        """Stop the node, delete its partitions (KafkaNode.wipe_data), and let the supervisor start it:
        it rejoins empty and copies its replicas back from the leaders."""
        supervisor = int(self.system.status()["supervisor_pid"])
        self.system._wait(lambda: self._pid(node_id) is not None, f"Kafka node {node_id} to run")
        pid = self._pid(node_id)
        assert pid is not None
        self.restarting[node_id] = self._started(node_id)
        os.kill(supervisor, signal.SIGSTOP)
        try:
            mark(f"wipe node {node_id}: SIGTERM, delete its partitions, start it")
            os.kill(pid, signal.SIGTERM)
            deadline = time.monotonic() + 30
            while pid_alive(pid):
                if time.monotonic() > deadline:
                    os.kill(pid, signal.SIGKILL)
                time.sleep(0.1)
            self.cluster.node(node_id).wipe_data()
        finally:
            os.kill(supervisor, signal.SIGCONT)
        self.system._wait(lambda: self._pid(node_id) not in (None, pid), f"node {node_id} back")

    def wait_in_sync(self, timeout: float = 180) -> float:
        """Until every node struck has started again and every replica is in sync; how long that took."""
        started = time.monotonic()
        for node_id, before in self.restarting.items():
            self.system._wait(
                lambda n=node_id, b=before: self._started(n) > b, f"node {node_id} started", timeout
            )
        self.restarting.clear()
        self.cluster.wait_ready(timeout)
        self.system._wait(lambda: not self._retry(self.cluster.under_replicated), "replicas in sync", timeout)
        return time.monotonic() - started

    def unclean_election_and_min_isr(self) -> tuple[str, str]:
        """The claim-events topic's effective ``unclean.leader.election.enable`` and ``min.insync.replicas``."""
        from kafka import KafkaAdminClient
        from kafka.admin import ConfigResource, ConfigResourceType

        admin = KafkaAdminClient(
            bootstrap_servers=self.cluster.bootstrap_servers, **self.cluster.admin_options()
        )
        try:
            wanted = {"unclean.leader.election.enable": None, "min.insync.replicas": None}
            found = admin.describe_configs([ConfigResource(ConfigResourceType.TOPIC, CLAIM_EVENTS_TOPIC, wanted)],
                                           config_filter="all")["topic"][CLAIM_EVENTS_TOPIC]  # fmt: skip
        finally:
            admin.close()
        return found["unclean.leader.election.enable"]["value"], found["min.insync.replicas"]["value"]
