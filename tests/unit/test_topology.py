"""One topology: the Kafka cluster the tests and `ipe up` run is the one infra/compose.yaml documents
for production, same version, same broker settings (SASL/SCRAM, the authorizer, no access without an
ACL), same topics, the same processes each as its own principal. Only the per-node settings (ids,
listeners, folders, the admin's password) and the loopback-only group settings differ."""

from __future__ import annotations

from typing import Any

import yaml

from ipe_claims.adapters.kafka_identities import service_principal
from ipe_claims.operations.kafka_access import password_variable, principals
from ipe_claims.operations.kafka_cluster import (
    ADMIN_USER,
    LOCAL_GROUP_SETTINGS,
    KafkaCluster,
    KafkaSecurity,
    cluster_settings,
)
from ipe_claims.operations.kafka_jars import kafka_version
from ipe_claims.operations.processes import SERVICES
from ipe_claims.settings import REPO_ROOT

COMPOSE = REPO_ROOT / "infra" / "compose.yaml"
PER_NODE = {"node.id", "controller.quorum.voters", "listeners", "advertised.listeners", "log.dirs"}
# Each node's key and trust files, and the admin's credential (in compose, start-node.sh formats with it).
NODE_FILES_AND_SECRETS = {"ssl.keystore.location", "ssl.truststore.location",
                          "listener.name.sasl_ssl.scram-sha-512.sasl.jaas.config", "admin.password"}  # fmt: skip


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
    shared = {k: v for k, v in documented.items() if k not in PER_NODE | NODE_FILES_AND_SECRETS}
    assert shared == cluster_settings(3, "SASL_SSL")
    assert documented["super.users"] == f"User:{ADMIN_USER};User:ANONYMOUS"
    assert documented["allow.everyone.if.no.acl.found"] == "false"
    assert f'username="{ADMIN_USER}"' in documented["listener.name.sasl_ssl.scram-sha-512.sasl.jaas.config"]
    assert not LOCAL_GROUP_SETTINGS.keys() & documented.keys(), (
        "loopback-only settings leaked into production"
    )


def test_a_local_node_runs_those_settings_plus_its_own(tmp_path: Any) -> None:
    cluster = KafkaCluster(tmp_path, tmp_path, [(9092, 9093), (9094, 9095), (9096, 9097)])
    properties = cluster.nodes[1].properties("voters", 3)
    assert properties.keys() == cluster_settings(3).keys() | LOCAL_GROUP_SETTINGS.keys() | PER_NODE
    assert {k: properties[k] for k in cluster_settings(3)} == cluster_settings(3)
    assert properties["node.id"] == "2" and properties["advertised.listeners"] == "PLAINTEXT://127.0.0.1:9094"


def test_a_secured_local_node_authenticates_and_authorizes_as_compose_does(tmp_path: Any) -> None:
    tls = KafkaSecurity("s3cret-admin", tmp_path / "node.pem", tmp_path / "ca.pem")
    for security, protocol in ((KafkaSecurity("s3cret-admin"), "SASL_PLAINTEXT"), (tls, "SASL_SSL")):
        cluster = KafkaCluster(tmp_path, tmp_path, [(9092, 9093)], security)
        properties = cluster.nodes[0].properties("voters", 1)
        assert {k: properties[k] for k in cluster_settings(1, protocol)} == cluster_settings(1, protocol)
        assert properties["advertised.listeners"] == f"{protocol}://127.0.0.1:9092"
        assert properties["authorizer.class.name"].endswith("StandardAuthorizer")
        assert 'password="s3cret-admin"' in properties[security.jaas_property()]
        assert "s3cret-admin" not in repr(security)
    assert {k: cluster_settings(3, "SASL_SSL")[k] for k in cluster_settings(3)} == cluster_settings(3) | {
        "listener.security.protocol.map": "CONTROLLER:PLAINTEXT,SASL_SSL:SASL_SSL",
        "inter.broker.listener.name": "SASL_SSL",
    }  # the same cluster otherwise


def test_smaller_clusters_replicate_as_much_as_they_can() -> None:
    one, two = cluster_settings(1), cluster_settings(2)
    assert (one["default.replication.factor"], one["min.insync.replicas"]) == ("1", "1")
    assert (two["default.replication.factor"], two["min.insync.replicas"]) == ("2", "2")
    assert one["unclean.leader.election.enable"] == "false" and one["auto.create.topics.enable"] == "false"


def test_compose_runs_the_kafka_version_the_project_fetches() -> None:
    assert _compose()["x-kafka"]["image"] == f"apache/kafka:{kafka_version()}"


def test_compose_runs_every_process_as_its_own_principal() -> None:
    services = _compose()["services"]
    for name, module in SERVICES.items():
        assert services[name]["command"] == ["python", "-m", module]
        env = services[name]["environment"]
        assert env["KAFKA_SASL_USERNAME"] == service_principal(name)
        assert password_variable(service_principal(name)) in env["KAFKA_SASL_PASSWORD"]
        assert (env["KAFKA_SECURITY_PROTOCOL"], env["KAFKA_SASL_MECHANISM"]) == ("SASL_SSL", "SCRAM-SHA-512")


def test_the_setup_job_makes_the_topics_and_principals_the_services_expect() -> None:
    """With the project's own code: the topics of settings.py, and each principal with its ACLs."""
    setup = _compose()["services"]["kafka-setup"]
    assert setup["command"] == ["python", "-m", "ipe_claims.operations.kafka_access"]
    assert setup["environment"]["KAFKA_SASL_USERNAME"] == ADMIN_USER
    assert {password_variable(p) for p in principals(SERVICES)[1:]} <= setup["environment"].keys()
