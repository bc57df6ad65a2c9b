"""The supervisor brings a dead embedded broker back, empty, and creates the topics with their partition
counts at once: left to a consumer's metadata request, the embedded broker would create them with 4."""

from __future__ import annotations

import signal
from pathlib import Path

import pytest

from ipe_claims.adapters.kafka import ensure_topics
from ipe_claims.operations.local import LocalBroker, free_port
from ipe_claims.operations.supervisor import Supervisor
from ipe_claims.settings import CLAIM_EVENTS_TOPIC, DEAD_LETTERS_TOPIC, TOPIC_PARTITIONS
from tests.conftest import topic_partitions

pytestmark = pytest.mark.integration


def test_a_restarted_embedded_broker_gets_its_topics_with_their_partitions(tmp_path: Path) -> None:
    broker = LocalBroker(tmp_path, free_port())
    broker.start()
    supervisor = Supervisor(tmp_path, free_port(), broker=broker)
    try:
        ensure_topics(broker.bootstrap_servers)
        assert broker.process is not None
        broker.process.send_signal(signal.SIGKILL)
        broker.process.wait(timeout=30)
        supervisor.revive_infrastructure()
        assert supervisor.infra_restarts["broker"] == 1
        for topic in (CLAIM_EVENTS_TOPIC, DEAD_LETTERS_TOPIC):
            assert topic_partitions(broker.bootstrap_servers, topic) == TOPIC_PARTITIONS[topic]
    finally:
        broker.stop()
