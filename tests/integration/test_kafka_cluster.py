"""The local Apache Kafka cluster the chaos suite and `ipe up --brokers 3` use: three nodes, replication
3 with two in sync, so a node killed mid-stream loses no acknowledged record and stops no writer, and
comes back with its data. A cluster of its own (the harness's is a single node)."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator

import pytest
from kafka import KafkaAdminClient, KafkaConsumer, KafkaProducer
from kafka.admin import NewTopic

from ipe_claims.operations.kafka_cluster import KafkaCluster, KafkaNode
from ipe_claims.operations.kafka_jars import fetch, toolchain
from tests.conftest import wait_for

pytestmark = [
    pytest.mark.integration,
    pytest.mark.skipif(not toolchain()[0], reason=f"no Apache Kafka here: {toolchain()[1]}"),
]


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[KafkaCluster]:
    own = KafkaCluster.on_free_ports(tmp_path_factory.mktemp("kafka3"), fetch(), 3)
    own.start()
    yield own
    for node in own.nodes:  # its data is thrown away: no controlled shutdown to wait for (up to 30 s)
        own.kill(node.node_id)
    own.discard()


def _leader(cluster: KafkaCluster, topic: str) -> int:
    admin = KafkaAdminClient(bootstrap_servers=cluster.bootstrap_servers)
    try:
        partition = admin.describe_topics([topic])[0]["partitions"][0]
    finally:
        admin.close()
    assert len(partition["replica_nodes"]) == 3  # the cluster's default replication
    return int(partition["leader_id"])


def test_a_killed_leader_loses_no_acknowledged_record_and_rejoins_with_its_data(
    cluster: KafkaCluster,
) -> None:
    topic = f"t-{uuid.uuid4()}"
    admin = KafkaAdminClient(bootstrap_servers=cluster.bootstrap_servers)
    admin.create_topics([NewTopic(topic, 1, -1)])
    admin.close()
    producer = KafkaProducer(bootstrap_servers=cluster.bootstrap_servers, acks="all", enable_idempotence=True,
                             retries=50, allow_auto_create_topics=False)  # fmt: skip
    sent = [f"{n}".encode() for n in range(200)]
    for value in sent[:100]:
        producer.send(topic, value)
    producer.flush()
    leader = wait_for(lambda: _leader(cluster, topic), what="a leader")
    cluster.kill(leader)
    killed = time.monotonic()
    assert [b["state"] for b in cluster.brokers()].count("stopped") == 1
    for value in sent[100:]:  # two replicas left in sync: writes go on once another leads
        producer.send(topic, value).get(timeout=60)
    print(f"writes resumed {time.monotonic() - killed:.1f} s after the leader was killed")
    producer.close()
    restarted = time.monotonic()
    cluster.start_node(leader)
    cluster.wait_ready()
    print(f"node {leader} back in {time.monotonic() - restarted:.1f} s")
    consumer = KafkaConsumer(topic, bootstrap_servers=cluster.bootstrap_servers, auto_offset_reset="earliest",
                             enable_auto_commit=False)  # fmt: skip
    read: list[bytes] = []
    try:
        while len(read) < len(sent):
            batches = wait_for(lambda: consumer.poll(timeout_ms=500), what="the records back")
            read += [record.value for records in batches.values() for record in records]
        assert not consumer.poll(timeout_ms=500)  # nothing twice
    finally:
        consumer.close()
    assert read == sent  # all of them, once each, in order
    assert all(b["state"] == "running" for b in cluster.brokers())


def test_a_wiped_node_rejoins_with_its_identity_and_copies_its_replicas_back(cluster: KafkaCluster) -> None:
    topic = f"t-{uuid.uuid4()}"
    admin = KafkaAdminClient(bootstrap_servers=cluster.bootstrap_servers)
    admin.create_topics([NewTopic(topic, 2, -1)])
    admin.close()
    producer = KafkaProducer(bootstrap_servers=cluster.bootstrap_servers, acks="all", enable_idempotence=True,
                             retries=50, allow_auto_create_topics=False)  # fmt: skip
    for n in range(300):
        producer.send(topic, f"{n}".encode())
    producer.flush()
    leaders = wait_for(lambda: cluster.leaders(topic) if -1 not in cluster.leaders(topic).values() else None,
                       what="leaders")  # fmt: skip
    node = cluster.node(leaders[0])
    identity = (node.data_dir / "meta.properties").read_text()
    cluster.wipe(node.node_id)
    assert (node.data_dir / "meta.properties").read_text() == identity  # same cluster, node, directory
    wait_for(lambda: not cluster.under_replicated() or None, timeout=60, what="replicas in sync")
    producer.close()

    def size(n: KafkaNode) -> int:
        return sum(f.stat().st_size for f in n.data_dir.glob(f"{topic}-*/*.log"))

    assert size(node) > 0 and {size(n) for n in cluster.nodes} == {size(node)}  # every replica copied back


def test_a_group_coordinator_is_one_of_the_nodes(cluster: KafkaCluster) -> None:
    from kafka.errors import CoordinatorNotAvailableError

    def coordinator() -> int | None:
        try:  # the first FindCoordinator makes the cluster create __consumer_offsets
            return cluster.coordinator("any-group")
        except CoordinatorNotAvailableError:
            return None

    assert wait_for(coordinator, what="a coordinator") in {n.node_id for n in cluster.nodes}
