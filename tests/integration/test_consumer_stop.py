"""A stop request is honoured within seconds even while the member is still joining its group: the
broker holds the JoinGroup of a member while the group waits for one that crashed (up to the rebalance
timeout, 5 min by default), and the LeaveGroup of ``close`` queues behind it. Unbounded, that wait took
the process past the supervisor's 15 s, to a SIGKILL."""

from __future__ import annotations

import subprocess
import sys
import threading
import time
from typing import Any

import pytest
from kafka import KafkaAdminClient, KafkaConsumer
from kafka.admin import NewTopic

from ipe_claims.adapters.kafka import TrackedConsumer
from ipe_claims.settings import Settings
from tests.conftest import random_digits, wait_for

pytestmark = pytest.mark.integration

# A member that joins the group, says so, then hangs on: killed, it leaves the group without a word.
CRASHING_MEMBER = """
import sys, time
from kafka import KafkaConsumer
consumer = KafkaConsumer(bootstrap_servers=sys.argv[1], group_id=sys.argv[2], enable_auto_commit=False,
                         session_timeout_ms=30000, max_poll_interval_ms=30000)
consumer.subscribe([sys.argv[3]])
while not consumer.assignment():
    consumer.poll(timeout_ms=200)
print("joined", flush=True)
time.sleep(600)
"""
STOP_BOUND_SECONDS = 5.0  # liveness, not speed: the supervisor kills at 15 s


def test_a_member_stopped_while_joining_its_group_returns_within_seconds(settings: Settings) -> None:
    settings = settings.changed(kafka={"fast_groups": False})  # the group timeouts of production
    topic, name = f"test-stop_{random_digits(9)}", f"stop_{random_digits(9)}"
    admin = KafkaAdminClient(bootstrap_servers=settings.kafka.bootstrap_servers)
    admin.create_topics([NewTopic(topic, 3, 1)])
    admin.close()
    crashed = subprocess.Popen(
        [sys.executable, "-c", CRASHING_MEMBER, settings.kafka.bootstrap_servers, name, topic],
        stdout=subprocess.PIPE,
    )
    try:
        assert crashed.stdout is not None and crashed.stdout.readline().strip() == b"joined"
    finally:
        crashed.kill()
        crashed.wait()

    made: list[KafkaConsumer] = []
    member = TrackedConsumer(settings, name, [topic], lambda _conn, _records: None)
    make = member._consumer

    def keep(**options: Any) -> KafkaConsumer:
        made.append(make(**options))
        return made[-1]

    member._consumer = keep  # type: ignore[method-assign]  # to see the member's join in flight
    stop = threading.Event()
    thread = threading.Thread(target=member.run, args=(stop,), daemon=True)
    thread.start()
    # The broker holds the join until the crashed member's session (45 s) ends.
    wait_for(lambda: made and made[0]._coordinator.rebalance_in_progress(), timeout=20, what="a join")
    time.sleep(0.5)  # the JoinGroup on the wire
    joining = made[0]._coordinator.rebalance_in_progress()
    began = time.monotonic()
    stop.set()
    thread.join(timeout=30)
    took = time.monotonic() - began
    assert not thread.is_alive()
    assert took < STOP_BOUND_SECONDS, f"the member took {took:.1f} s to stop"
    assert joining and member.handled == 0  # it was stopped during its join
