"""One topology: the Kafka cluster the tests and `ipe up` run is the one infra/compose.yaml documents
for production, same version, same broker settings, same topics. Only the per-node settings (ids,
listeners, folders) and the loopback-only group settings differ."""

from __future__ import annotations

import re
from typing import Any

import yaml

from ipe_claims.infra.kafka_cluster import LOCAL_GROUP_SETTINGS, KafkaCluster, cluster_settings
from ipe_claims.infra.kafka_jars import kafka_version
from ipe_claims.settings import REPO_ROOT, TOPIC_CONFIGS, TOPIC_PARTITIONS

COMPOSE = REPO_ROOT / "infra" / "compose.yaml"
PER_NODE = {"node.id", "controller.quorum.voters", "listeners", "advertised.listeners", "log.dirs"}


def _compose() -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load(COMPOSE.read_text())
    return loaded


def _property(env_name: str) -> str:
    """The apache/kafka image's mapping: KAFKA_A_B -> a.b (``__`` -> ``_``, ``___`` -> ``-``)."""
    name = env_name.removeprefix("KAFKA_").lower()
    return name.replace("___", "-").replace("__", "\0").replace("_", ".").replace("\0", "_")


def _node_properties(service: str) -> dict[str, str]:
    env = _compose()["services"][service]["environment"]
    return {_property(k): str(v).lower() if isinstance(v, bool) else str(v)
            for k, v in env.items() if k.startswith("KAFKA_")}  # fmt: skip


def test_the_broker_settings_are_the_ones_compose_documents() -> None:
    documented = _node_properties("kafka-1")
    shared = {k: v for k, v in documented.items() if k not in PER_NODE}
    assert shared == cluster_settings(3)
    assert not LOCAL_GROUP_SETTINGS.keys() & documented.keys(), (
        "loopback-only settings leaked into production"
    )


def test_a_local_node_runs_those_settings_plus_its_own(tmp_path: Any) -> None:
    cluster = KafkaCluster(tmp_path, tmp_path, [(9092, 9093), (9094, 9095), (9096, 9097)])
    properties = cluster.nodes[1].properties("voters", 3)
    assert properties.keys() == cluster_settings(3).keys() | LOCAL_GROUP_SETTINGS.keys() | PER_NODE
    assert {k: properties[k] for k in cluster_settings(3)} == cluster_settings(3)
    assert properties["node.id"] == "2" and properties["advertised.listeners"] == "PLAINTEXT://127.0.0.1:9094"


def test_smaller_clusters_replicate_as_much_as_they_can() -> None:
    one, two = cluster_settings(1), cluster_settings(2)
    assert (one["default.replication.factor"], one["min.insync.replicas"]) == ("1", "1")
    assert (two["default.replication.factor"], two["min.insync.replicas"]) == ("2", "2")
    assert one["unclean.leader.election.enable"] == "false" and one["auto.create.topics.enable"] == "false"


def test_compose_runs_the_kafka_version_the_project_fetches() -> None:
    assert _compose()["x-kafka"]["image"] == f"apache/kafka:{kafka_version()}"


def test_the_topics_job_creates_the_topics_the_services_expect() -> None:
    script = _compose()["services"]["topics"]["command"][0]
    specs = re.search(r'for spec in ((?:"[^"]+" ?)+); do', script)
    assert specs
    created = {name: (int(count), retention) for name, count, retention in
               (spec.split() for spec in re.findall(r'"([^"]+)"', specs.group(1)))}  # fmt: skip
    assert {name: count for name, (count, _) in created.items()} == TOPIC_PARTITIONS
    kept_forever = {name for name, (_, retention) in created.items() if retention == "-1"}
    assert kept_forever == {
        name for name, config in TOPIC_CONFIGS.items() if config.get("retention.ms") == "-1"
    }
