"""Claims from submission to decision visible in the ``claims`` read model, through the real processes:
the Kafka ingress at saturation and at a fixed rate, HTTP with 16 clients, and the projector scaled out.

Baselines are raw kafka-python produce + consume of as many messages of the same size on the same broker.
"""

from __future__ import annotations

import statistics
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx
from eventsourcing.utils import get_topic
from kafka import KafkaAdminClient, KafkaConsumer, KafkaProducer
from kafka.admin import NewTopic

from bench.data import Worker, http_body, submission
from bench.system import PORTAL, System, wait_until
from ipe_claims.adapters.accounts import create_account
from ipe_claims.adapters.avro import AvroCodec
from ipe_claims.adapters.kafka import make_producer
from ipe_claims.application.intake import claim_id_for
from ipe_claims.domain.claim import Claim
from ipe_claims.settings import portal_topic

PASSWORD = "bench-password-not-secret"  # a throw-away account in a throw-away database
DECIDED_TOPIC = get_topic(Claim.Decided)


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q / 100 * len(ordered)) - 1))] if ordered else 0.0


class Watcher:
    """Polls the read model for claims whose decision is visible; records when each one was seen."""

    def __init__(self, system: System, every: float) -> None:
        self.system = system
        self.every = every
        self.pending: set[uuid.UUID] = set()
        self.seen: dict[uuid.UUID, float] = {}
        self.lock = threading.Lock()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def expect(self, claim_id: uuid.UUID) -> None:
        with self.lock:
            self.pending.add(claim_id)

    def _run(self) -> None:
        with self.system.connect() as conn:
            while not self._stop.wait(self.every):
                with self.lock:
                    ids = list(self.pending)
                if not ids:
                    continue
                found = conn.execute("SELECT claim_id FROM claims WHERE claim_id = ANY(%s) AND situation <> 'En cours'",
                                     (ids,)).fetchall()  # fmt: skip
                now = time.perf_counter()
                with self.lock:
                    for (claim_id,) in found:
                        self.pending.discard(claim_id)
                        self.seen[claim_id] = now

    def wait_all(self, timeout: float) -> float:
        wait_until(lambda: not self.pending, timeout, f"{len(self.pending)} decisions", 0.1)
        return max(self.seen.values())

    def close(self) -> None:
        self._stop.set()
        self._thread.join()


def prepare(system: System, affiliation_numbers: list[str]) -> str:
    """The employer account the portal traffic runs as; returns a bearer token."""
    with system.connect() as conn:
        create_account(conn, PORTAL, PASSWORD, "employer", affiliation_numbers)
    response = httpx.post(f"http://127.0.0.1:{system.http_port}/api/v1/auth/token",
                          json={"username": PORTAL, "password": PASSWORD}, timeout=60)  # fmt: skip
    response.raise_for_status()
    return str(response.json()["access_token"])


def _raw_topic(system: System) -> str:
    name = f"bench.raw-{uuid.uuid4().hex[:8]}"
    admin = KafkaAdminClient(bootstrap_servers=system.settings.kafka.bootstrap_servers)
    admin.create_topics([NewTopic(name, 12, 1)])
    admin.close()
    return name


def raw_produce_consume(system: System, count: int, size: int, rate: float | None = None) -> dict[str, float]:
    """The baseline: an idempotent acks=all producer and a plain consumer on a fresh 12-partition topic.
    Returns messages/s from the first send to the last receipt, and end-to-end latencies (ms)."""
    topic = _raw_topic(system)
    servers = system.settings.kafka.bootstrap_servers
    consumer = KafkaConsumer(topic, bootstrap_servers=servers, group_id=topic, auto_offset_reset="earliest",
                             fetch_max_wait_ms=100, session_timeout_ms=2000, heartbeat_interval_ms=500)  # fmt: skip
    wait_until(lambda: consumer.poll(timeout_ms=100) is not None and consumer.assignment(), 60, "assignment")
    producer = KafkaProducer(bootstrap_servers=servers, acks="all", enable_idempotence=True, linger_ms=5)
    sent_at: dict[int, float] = {}
    received: dict[int, float] = {}
    payload = b"x" * max(0, size - 8)

    def consume() -> None:
        deadline = time.monotonic() + 600
        while len(received) < count and time.monotonic() < deadline:
            for records in consumer.poll(timeout_ms=200).values():
                now = time.perf_counter()
                for record in records:
                    received[int.from_bytes(record.value[:8], "big")] = now

    reader = threading.Thread(target=consume)
    reader.start()
    started = time.perf_counter()
    for n in range(count):
        if rate:
            time.sleep(max(0.0, started + n / rate - time.perf_counter()))
        sent_at[n] = time.perf_counter()
        producer.send(topic, key=str(n).encode(), value=n.to_bytes(8, "big") + payload)
        if rate:
            producer.flush()
    producer.flush()
    reader.join()
    producer.close()
    consumer.close()
    latencies = [(received[n] - sent_at[n]) * 1000 for n in received]
    return {"rate": len(received) / (max(received.values()) - started), "p50": percentile(latencies, 50),
            "p95": percentile(latencies, 95), "p99": percentile(latencies, 99)}  # fmt: skip


def _send_submissions(system: System, people: list[Worker], tag: str, rate: float | None,
                      watcher: Watcher) -> tuple[dict[uuid.UUID, float], float, int]:  # fmt: skip
    codec = AvroCodec(system.settings.schemas_dir)
    producer = make_producer(system.settings)
    sent: dict[uuid.UUID, float] = {}
    size = 0
    started = time.perf_counter()
    for n, worker in enumerate(people):
        if rate:
            time.sleep(max(0.0, started + n / rate - time.perf_counter()))
        submission_id = f"{tag}-{worker.immatriculation}"
        value = codec.encode("ClaimSubmission", submission(worker, PORTAL, submission_id))
        size = len(value)
        claim_id = claim_id_for(PORTAL, submission_id)
        watcher.expect(claim_id)
        sent[claim_id] = time.perf_counter()
        producer.send(portal_topic(PORTAL), key=worker.immatriculation.encode(), value=value)
        if rate:
            producer.flush()
    producer.flush()
    producer.close()
    return sent, started, size


def _latencies(sent: dict[uuid.UUID, float], watcher: Watcher) -> list[float]:
    return [(watcher.seen[claim_id] - at) * 1000 for claim_id, at in sent.items() if claim_id in watcher.seen]


def kafka_e2e(system: System, people: list[Worker]) -> dict[str, Any]:
    watcher = Watcher(system, every=0.1)
    cpu_before = system.cpu()
    sent, started, size = _send_submissions(system, people, "sat", None, watcher)
    finished = watcher.wait_all(timeout=60 + len(people) / 5)
    watcher.close()
    cpu = system.cpu_since(cpu_before)
    latencies = _latencies(sent, watcher)
    baseline = raw_produce_consume(system, len(people), size)
    return {"value": len(people) / (finished - started), "unit": "claims/s", "baseline": baseline["rate"],
            "claims": len(people), "message_bytes": size, "target_ratio": 0.5, "service_cpu_seconds": cpu,
            "saturation_latency_ms": {"p50": round(percentile(latencies, 50)), "p95": round(percentile(latencies, 95)),
                                      "p99": round(percentile(latencies, 99))}}  # fmt: skip


def latency_at(system: System, people: list[Worker], rate: float) -> dict[str, Any]:
    watcher = Watcher(system, every=0.01)
    sent, _started, size = _send_submissions(system, people, "lat", rate, watcher)
    watcher.wait_all(timeout=120 + len(people) / 5)
    watcher.close()
    latencies = _latencies(sent, watcher)
    baseline = raw_produce_consume(system, len(people), size, rate=rate)
    return {"value": percentile(latencies, 99), "unit": "ms", "baseline": baseline["p99"], "rate_per_s": rate,
            "claims": len(people), "p50_ms": round(percentile(latencies, 50), 1),
            "p95_ms": round(percentile(latencies, 95), 1), "mean_ms": round(statistics.fmean(latencies), 1),
            "baseline_p50_ms": round(baseline["p50"], 1), "target": 500,
            "note": "lower is better: ratio = value / baseline"}  # fmt: skip


def http(system: System, people: list[Worker], token: str, clients: int = 16) -> dict[str, Any]:
    """``clients`` threads, each with a keep-alive httpx client, POST one claim per worker."""
    url = f"http://127.0.0.1:{system.http_port}/api/v1/claims"
    headers = {"Authorization": f"Bearer {token}"}
    watcher = Watcher(system, every=0.1)
    statuses: dict[int, int] = {}
    lock = threading.Lock()
    local = threading.local()

    def post(worker: Worker) -> None:
        if not hasattr(local, "client"):
            local.client = httpx.Client(timeout=120, headers=headers)
        response = local.client.post(url, json=http_body(worker),
                                     headers={"Idempotency-Key": f"http-{worker.immatriculation}"})  # fmt: skip
        with lock:
            statuses[response.status_code] = statuses.get(response.status_code, 0) + 1
        if response.status_code == 201:
            watcher.expect(uuid.UUID(response.json()["claim_id"]))

    cpu_before = system.cpu()
    started = time.perf_counter()
    with ThreadPoolExecutor(clients) as pool:
        list(pool.map(post, people))
    answered = time.perf_counter()
    cpu = system.cpu_since(cpu_before)
    finished = watcher.wait_all(timeout=60 + len(people) / 5)
    watcher.close()
    baseline = raw_produce_consume(system, len(people), 300)
    return {"value": statuses.get(201, 0) / (answered - started), "unit": "submissions/s",
            "baseline": baseline["rate"], "clients": clients, "statuses": {str(k): v for k, v in statuses.items()},
            "decided_per_s": round(len(watcher.seen) / (finished - started), 1), "target": 500,
            "service_cpu_seconds": cpu, "seconds": round(answered - started, 2)}  # fmt: skip


def _relayed(system: System, ids: list[uuid.UUID]) -> bool:
    with system.connect() as conn:
        row = conn.execute(
            "SELECT count(*), coalesce(max(notification_id), 0) FROM ipe_events WHERE originator_id = ANY(%s)",
            (ids,),
        ).fetchone()
        relay = conn.execute("SELECT coalesce(max(last_notification_id), 0) FROM relay_positions").fetchone()
    return bool(row and relay and row[0] >= len(ids) and relay[0] >= row[1])


def _decided_twice(system: System, ids: list[uuid.UUID]) -> tuple[int, int]:
    with system.connect() as conn:
        rows = conn.execute("SELECT originator_id, count(*) FROM ipe_events WHERE topic = %s "
                            "AND originator_id = ANY(%s) GROUP BY 1", (DECIDED_TOPIC, ids)).fetchall()  # fmt: skip
    return sum(1 for _id, n in rows if n > 1), len(rows)


class _DecisionCounter:
    """Counts the ClaimDecided events of ``ids`` in the store every 0.1 s: decisions per second from the
    first sample that found one to the one that found them all."""

    def __init__(self, system: System, ids: list[uuid.UUID]) -> None:
        self.samples: list[tuple[float, int]] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, args=(system, ids), daemon=True)
        self._thread.start()

    def _run(self, system: System, ids: list[uuid.UUID]) -> None:
        with system.connect() as conn:
            while not self._stop.wait(0.1):
                row = conn.execute("SELECT count(*) FROM ipe_events WHERE topic = %s AND originator_id = ANY(%s)",
                                   (DECIDED_TOPIC, ids)).fetchone()  # fmt: skip
                self.samples.append((time.perf_counter(), int(row[0]) if row else 0))
                if self.samples[-1][1] >= len(ids):
                    return

    def close(self) -> float:
        self._thread.join(timeout=600)
        self._stop.set()
        started = next((s for s in self.samples if s[1] > 0), None)
        if started is None or self.samples[-1][0] <= started[0]:
            return float(self.samples[-1][1]) if self.samples else 0.0
        return (self.samples[-1][1] - started[1]) / (self.samples[-1][0] - started[0])


def scale_out(system: System, batches: tuple[list[Worker], list[Worker]]) -> dict[str, Any]:
    """A backlog of submitted claims, decided by one projector, then (a new backlog) by two in one group,
    the second joining while the first is at work (a rebalance mid-run). claims/s: decisions appended to
    the store per second, from the first to the last (with process start, group join and the decisions
    projected back into the read model: ``claims_per_s_with_start``)."""
    results: dict[str, Any] = {}
    for members, people in zip((1, 2), batches, strict=True):
        system.halt("projector")
        watcher = Watcher(system, every=0.1)
        sent, _started, _size = _send_submissions(system, people, f"scale{members}", None, watcher)
        ids = list(sent)
        wait_until(lambda ids=ids: _relayed(system, ids), 60 + len(ids) / 5, "the backlog to be relayed", 0.5)
        cpu_before = system.cpu()
        started = time.perf_counter()
        system.run("projector")
        counter = _DecisionCounter(system, ids)
        if members == 2:
            time.sleep(2.0)
            system.run("projector#2", "projector")
        finished = watcher.wait_all(timeout=60 + len(ids) / 2)
        watcher.close()
        decisions_per_s = counter.close()
        cpu = system.cpu_since(cpu_before)
        twice, decided = _decided_twice(system, ids)
        results[f"{members}_projector{'s' if members > 1 else ''}"] = {
            "claims": len(ids), "claims_per_s": round(decisions_per_s, 1),
            "claims_per_s_with_start": round(len(ids) / (finished - started), 1),
            "decided": decided, "decided_twice": twice, "service_cpu_seconds": cpu}  # fmt: skip
        if members == 2:
            system.halt("projector#2")
    return results
