"""Apache Kafka on loopback: N KRaft nodes, each broker and controller, run by the JDK from the jars
``kafka_jars`` fetched. Tests, ``ipe up --broker apache`` and the chaos suite use it; production runs
the same settings (``cluster_settings``) from ``infra/compose.yaml``, which a test holds equal.

Each node has its own ports and data folder under ``home`` (``node-N/``), so a node can be killed,
restarted or wiped alone. With a ``KafkaSecurity``, clients and brokers authenticate with SASL/SCRAM-SHA-512
(over TLS with ``tls``) and the StandardAuthorizer enforces ACLs (docs/operations.md, Kafka identities).
"""

from __future__ import annotations

import base64
import json
import os
import signal
import socket
import subprocess
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ipe_claims.operations.local import free_port

HEAP = "-Xmx512m"
LOG4J = """\
rootLogger.level = INFO
rootLogger.appenderRef.stdout.ref = STDOUT
appender.stdout.type = Console
appender.stdout.name = STDOUT
appender.stdout.layout.type = PatternLayout
appender.stdout.layout.pattern = [%d] %p %m (%c)%n
logger.state.name = state.change.logger
logger.state.level = WARN
"""
# Loopback only, never production: a group forms at once (the 3 s default waits for more members), and
# the short session timeouts of Settings.kafka.fast_groups are accepted (the broker's floor is 6 s).
# What a wipe keeps: the node's identity and the KRaft metadata log (KafkaNode.wipe_data).
KEPT_ON_WIPE = ("meta.properties", "__cluster_metadata-0")
LOCAL_GROUP_SETTINGS = {
    "group.initial.rebalance.delay.ms": "0",
    "group.min.session.timeout.ms": "1000",
}


SCRAM = "SCRAM-SHA-512"
ADMIN_USER = "ipe-admin"  # the brokers' own principal, and the operator's: the one super user
# The controller listener stays PLAINTEXT (loopback here, a private network in compose): its peers are
# User:ANONYMOUS, which must be a super user for brokers to register and controllers to vote. SCRAM
# cannot authenticate controllers (its credentials live in the metadata they serve).
CONTROLLER_PRINCIPAL = "User:ANONYMOUS"


@dataclass(frozen=True)
class KafkaSecurity:
    """SASL/SCRAM-SHA-512 on the client and inter-broker listener, the KRaft StandardAuthorizer with no
    access where no ACL grants it, and ``ADMIN_USER`` (created at format time) as the super user.

    ``tls``: a PEM file holding the broker's private key (PKCS#8, unencrypted) and certificate, and
    ``ca``: the PEM CA file brokers and clients trust; the listener is then SASL_SSL.
    """

    admin_password: str = field(repr=False)
    tls: Path | None = None
    ca: Path | None = None

    @property
    def protocol(self) -> str:
        return "SASL_SSL" if self.tls else "SASL_PLAINTEXT"

    def jaas_property(self) -> str:
        return f"listener.name.{self.protocol.lower()}.{SCRAM.lower()}.sasl.jaas.config"

    def node_properties(self) -> dict[str, str]:
        """The secrets and file paths each node holds (compose passes the same from its variables)."""
        jaas = f'org.apache.kafka.common.security.scram.ScramLoginModule required username="{ADMIN_USER}" password="{self.admin_password}";'
        tls = {"ssl.keystore.location": str(self.tls), "ssl.truststore.location": str(self.ca)}
        return {self.jaas_property(): jaas} | (tls if self.tls else {})

    def client_options(self) -> dict[str, str]:
        """kafka-python options of the admin principal."""
        return client_options(ADMIN_USER, self.admin_password, self.ca if self.tls else None)


def client_options(username: str, password: str, ca: Path | None = None) -> dict[str, str]:
    """kafka-python options for a SCRAM principal (over TLS with ``ca``)."""
    options = {"security_protocol": "SASL_SSL" if ca else "SASL_PLAINTEXT", "sasl_mechanism": SCRAM,
               "sasl_plain_username": username, "sasl_plain_password": password}  # fmt: skip
    return options | ({"ssl_cafile": str(ca)} if ca else {})


def security_settings(protocol: str) -> dict[str, str]:
    """What a secured cluster's nodes share besides ``cluster_settings``: SCRAM, the authorizer, who is
    super user, and nothing allowed that no ACL grants."""
    tls = {"ssl.keystore.type": "PEM", "ssl.truststore.type": "PEM"} if protocol == "SASL_SSL" else {}
    return {
        "listener.security.protocol.map": f"CONTROLLER:PLAINTEXT,{protocol}:{protocol}",
        "inter.broker.listener.name": protocol,
        "sasl.enabled.mechanisms": SCRAM,
        "sasl.mechanism.inter.broker.protocol": SCRAM,
        "authorizer.class.name": "org.apache.kafka.metadata.authorizer.StandardAuthorizer",
        "super.users": f"User:{ADMIN_USER};{CONTROLLER_PRINCIPAL}",
        "allow.everyone.if.no.acl.found": "false",
    } | tls


def cluster_settings(size: int, protocol: str = "PLAINTEXT") -> dict[str, str]:
    """The broker settings every node of a ``size``-node cluster shares; infra/compose.yaml documents
    the same for three nodes and SASL_SSL (tests/unit/test_topology.py). Replication 3 and acks=all with
    two replicas in sync: one broker may be lost without losing an acknowledged record or stopping writes.
    ``protocol``: PLAINTEXT, or SASL_PLAINTEXT / SASL_SSL for a cluster with identities and ACLs."""
    replicas, in_sync = str(min(3, size)), str(min(2, size))
    return {
        "process.roles": "broker,controller",
        "listener.security.protocol.map": "CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT",
        "inter.broker.listener.name": "PLAINTEXT",
        "controller.listener.names": "CONTROLLER",
        "default.replication.factor": replicas,
        "min.insync.replicas": in_sync,
        "offsets.topic.replication.factor": replicas,
        "transaction.state.log.replication.factor": replicas,
        "transaction.state.log.min.isr": in_sync,
        "share.coordinator.state.topic.replication.factor": replicas,
        "share.coordinator.state.topic.min.isr": in_sync,
        "unclean.leader.election.enable": "false",
        "auto.create.topics.enable": "false",
    } | (security_settings(protocol) if protocol != "PLAINTEXT" else {})


def port_open(port: int) -> bool:
    with socket.socket() as sock:
        sock.settimeout(0.2)
        return sock.connect_ex(("127.0.0.1", port)) == 0


def new_cluster_id() -> str:
    """What ``kafka-storage.sh random-uuid`` prints: 16 random bytes, base64url (never a leading '-')."""
    while True:
        cluster_id = base64.urlsafe_b64encode(uuid.uuid4().bytes).decode().rstrip("=")
        if not cluster_id.startswith("-"):
            return cluster_id


@dataclass
class KafkaNode:
    node_id: int
    port: int
    controller_port: int
    folder: Path
    process: subprocess.Popen[bytes] | None = None
    security: KafkaSecurity | None = None

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"

    @property
    def data_dir(self) -> Path:
        return self.folder / "data"

    @property
    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def wipe_data(self) -> None:
        """Delete the broker's partitions (a data disk replaced), the node being stopped: it rejoins empty
        and copies every replica back from the leaders before it is in sync again. ``meta.properties``
        (cluster, node and directory ids) and the controller's metadata log stay: with a static voter
        set, a voter that lost its log may vote twice in one epoch and elect a leader without committed
        metadata (KIP-853), so a lost metadata disk needs kraft.version 1 and remove/add-controller."""
        import shutil

        for path in self.data_dir.iterdir():
            if path.name in KEPT_ON_WIPE:
                continue
            shutil.rmtree(path) if path.is_dir() else path.unlink()

    def properties(self, voters: str, size: int) -> dict[str, str]:
        protocol = self.security.protocol if self.security else "PLAINTEXT"
        return (
            cluster_settings(size, protocol)
            | LOCAL_GROUP_SETTINGS
            | {
                "node.id": str(self.node_id),
                "controller.quorum.voters": voters,
                "listeners": f"{protocol}://{self.address},CONTROLLER://127.0.0.1:{self.controller_port}",
                "advertised.listeners": f"{protocol}://{self.address}",
                "log.dirs": str(self.data_dir),
            }
            | (self.security.node_properties() if self.security else {})
        )


@dataclass
class KafkaCluster:
    """``size`` nodes; ``ports`` (broker, controller) per node, chosen once and kept across restarts."""

    home: Path
    libs: Path
    ports: list[tuple[int, int]]
    security: KafkaSecurity | None = None
    nodes: list[KafkaNode] = field(init=False)

    def __post_init__(self) -> None:
        self.nodes = [
            KafkaNode(i, port, controller, self.home / f"node-{i}", security=self.security)
            for i, (port, controller) in enumerate(self.ports, start=1)
        ]

    @classmethod
    def on_free_ports(
        cls, home: Path, libs: Path, size: int, security: KafkaSecurity | None = None
    ) -> KafkaCluster:
        return cls(home, libs, [(free_port(), free_port()) for _ in range(size)], security)

    def admin_options(self) -> dict[str, str]:
        """kafka-python options of the admin principal; none for a PLAINTEXT cluster."""
        return self.security.client_options() if self.security else {}

    @property
    def bootstrap_servers(self) -> str:
        return ",".join(node.address for node in self.nodes)

    def node(self, node_id: int) -> KafkaNode:
        return self.nodes[node_id - 1]

    def _java(self, main: str, *args: str) -> list[str]:
        return ["java", HEAP, f"-Dlog4j2.configurationFile={self.home / 'log4j2.properties'}",
                "-cp", f"{self.libs}/*", main, *args]  # fmt: skip

    def _cluster_id(self) -> str:
        """Kept in ``home/cluster.json`` with the size: a folder formatted for one size serves no other."""
        path = self.home / "cluster.json"
        if path.exists():
            known: dict[str, Any] = json.loads(path.read_text())
            if known["size"] != len(self.nodes):
                raise RuntimeError(
                    f"{self.home} holds a {known['size']}-node Kafka cluster, not {len(self.nodes)}: "
                    "start it with that size, or delete the folder to start over"
                )
            if known.get("secured", False) != (self.security is not None):  # SCRAM users come at format
                raise RuntimeError(
                    f"{self.home} holds a Kafka cluster formatted {'with' if known.get('secured') else 'without'}"
                    " SASL/SCRAM: delete the folder to start over"
                )
            return str(known["cluster_id"])
        cluster_id = new_cluster_id()
        path.write_text(json.dumps({"cluster_id": cluster_id, "size": len(self.nodes),
                                    "secured": self.security is not None}))  # fmt: skip
        return cluster_id

    def _write_config(self, node: KafkaNode) -> Path:
        voters = ",".join(f"{n.node_id}@127.0.0.1:{n.controller_port}" for n in self.nodes)
        node.folder.mkdir(parents=True, exist_ok=True)
        config = node.folder / "server.properties"
        config.touch(mode=0o600)  # it holds the admin password when secured
        config.write_text("".join(f"{k}={v}\n" for k, v in node.properties(voters, len(self.nodes)).items()))
        return config

    def _format(self, node: KafkaNode, config: Path, cluster_id: str) -> None:
        if (node.data_dir / "meta.properties").exists():
            return
        scram = (  # the brokers' principal must exist before any broker can authenticate to another
            ["--add-scram", f'{SCRAM}=[name="{ADMIN_USER}",password="{self.security.admin_password}"]']
            if self.security
            else []
        )
        formatted = subprocess.run(
            self._java("kafka.tools.StorageTool", "format", "-t", cluster_id, "-c", str(config), *scram),
            capture_output=True, text=True, check=False,
        )  # fmt: skip
        if formatted.returncode != 0:
            raise RuntimeError(f"formatting node {node.node_id} failed: {formatted.stdout}{formatted.stderr}")

    def start_node(self, node_id: int) -> None:
        """Start one node (formatting its storage first if it has none, e.g. after a wipe)."""
        node = self.node(node_id)
        self.home.mkdir(parents=True, exist_ok=True)
        (self.home / "log4j2.properties").write_text(LOG4J)
        config = self._write_config(node)
        self._format(node, config, self._cluster_id())
        log = open(node.folder / "broker.log", "ab")  # noqa: SIM115 - handed to the child process
        node.process = subprocess.Popen(
            self._java("kafka.Kafka", str(config)), stdout=log, stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL, start_new_session=True,
        )  # fmt: skip
        log.close()

    def start(self, timeout: float = 120.0) -> None:
        for node in self.nodes:
            if not node.running:
                self.start_node(node.node_id)
        self.wait_ready(timeout)

    def wait_ready(self, timeout: float = 120.0) -> None:
        """Until every node is registered as a broker with the controller quorum."""
        from kafka.errors import KafkaError

        deadline = time.monotonic() + timeout
        last: object = None
        while time.monotonic() < deadline:
            dead = [n.node_id for n in self.nodes if n.process is not None and n.process.poll() is not None]
            if dead:
                raise RuntimeError(f"Kafka node(s) {dead} exited: see {self.home}/node-N/broker.log")
            if not all(port_open(n.port) for n in self.nodes if n.running):
                time.sleep(0.1)
                continue
            try:
                admin = self._admin()
                try:
                    brokers = admin.describe_cluster()["brokers"]
                finally:
                    admin.close()
                if len(brokers) == len(self.nodes):
                    return
                last = f"{len(brokers)} of {len(self.nodes)} brokers registered"
            except (KafkaError, OSError) as exc:
                last = exc
            time.sleep(0.2)
        raise TimeoutError(f"Kafka not ready after {timeout}s: {last}")

    def stop_node(self, node_id: int, sig: int = signal.SIGTERM, timeout: float = 30.0) -> None:
        """SIGTERM (a controlled shutdown), SIGKILL after ``timeout``; SIGKILL at once with ``sig``."""
        node = self.node(node_id)
        if node.running:
            assert node.process is not None
            os.kill(node.process.pid, sig)
        self._reap(node, timeout)

    @staticmethod
    def _reap(node: KafkaNode, timeout: float) -> None:
        if node.process is None:
            return
        try:
            node.process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            node.process.kill()
            node.process.wait()
        node.process = None

    def kill(self, node_id: int) -> None:
        """A crash as the cluster sees it: SIGKILL, no controlled shutdown."""
        self.stop_node(node_id, signal.SIGKILL)

    def restart(self, node_id: int, timeout: float = 120.0) -> None:
        self.stop_node(node_id)
        self.start_node(node_id)
        self.wait_ready(timeout)

    def stop(self, timeout: float = 30.0) -> None:
        """Every node at once: one by one, the last ones would wait for a controller quorum that is gone."""
        for node in self.nodes:
            if node.running:
                assert node.process is not None
                node.process.terminate()
        deadline = time.monotonic() + timeout
        for node in self.nodes:
            self._reap(node, max(0.1, deadline - time.monotonic()))

    def discard(self) -> None:
        import shutil

        self.stop()
        shutil.rmtree(self.home, ignore_errors=True)

    def brokers(self) -> list[dict[str, Any]]:
        """For ``ipe status --json``."""
        return [
            {"id": n.node_id, "address": n.address, "state": "running" if n.running else "stopped",
             "pid": n.process.pid if n.running and n.process else None}
            for n in self.nodes
        ]  # fmt: skip

    # --- what faults are aimed at (the chaos suite): leaders, coordinators, replicas in sync ---

    def _admin(self) -> Any:
        from kafka import KafkaAdminClient

        return KafkaAdminClient(
            bootstrap_servers=self.bootstrap_servers, request_timeout_ms=5000, **self.admin_options()
        )

    def leaders(self, topic: str) -> dict[int, int]:
        """Partition -> node id of its leader (-1 while it has none)."""
        admin = self._admin()
        try:
            partitions = admin.describe_topics([topic])[0]["partitions"]
        finally:
            admin.close()
        return {int(p["partition_index"]): int(p["leader_id"]) for p in partitions}

    def coordinator(self, group: str) -> int:
        """The node coordinating a consumer group (FindCoordinator; kafka-python has no public call)."""
        admin = self._admin()
        try:
            return int(admin._manager.run(admin._find_coordinator_id, group))
        finally:
            admin.close()

    def under_replicated(self) -> list[str]:
        """``topic/partition`` of every partition whose in-sync replicas are fewer than its replicas."""
        admin = self._admin()
        try:
            topics = admin.describe_topics()
        finally:
            admin.close()
        return [f"{t['name']}/{p['partition_index']}" for t in topics for p in t["partitions"]
                if len(p["isr_nodes"]) < len(p["replica_nodes"])]  # fmt: skip

    def wipe(self, node_id: int, timeout: float = 120.0) -> None:
        """Stop a node, delete its partitions and start it again (KafkaNode.wipe_data)."""
        self.stop_node(node_id)
        self.node(node_id).wipe_data()
        self.start_node(node_id)
        self.wait_ready(timeout)
