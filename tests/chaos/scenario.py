"""The chaos scenario: a load of claims over HTTP while services, the broker and Postgres are killed.

On the embedded broker a broker restart loses the whole log (the relay re-publishes from the store);
on a three-node Apache Kafka cluster the faults are the cluster's: SIGKILL the leader of a claim-events
partition or the projector group's coordinator, restart every node in turn, wipe one node's partitions.

Everything random comes from one ``random.Random(seed)``: the insured, their histories, the motifs, the
order of the faults and the progress (claims accepted so far) at which each one strikes. Thread timing
still varies from run to run; what is checked does not depend on it.
"""

from __future__ import annotations

import contextlib
import json
import queue
import random
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path
from typing import TYPE_CHECKING

import httpx

from ipe_claims.domain.contributions import months_before
from ipe_claims.settings import Settings
from tests.chaos.checks import Tally, tally
from tests.chaos.kafka_faults import KafkaFaults
from tests.chaos.pauses import DecisionWatch, Strike, baseline, pauses, table
from tests.chaos.system import ChaosSystem

if TYPE_CHECKING:
    from kafka import KafkaProducer

USERNAME, PASSWORD = "chaos-employer", "chaos-pass-2026"
PORTAL, PORTAL_PASSWORD = "chaos-portal", "chaos-portal-2026"  # publishes on Kafka, as `ipe portals` made it
RETRYABLE = {429, 500, 502, 503, 504}


@dataclass(frozen=True)
class Plan:
    seed: int
    claims: int
    kills_per_service: int = 3
    broker_restarts: int = 2
    postgres_restarts: int = 2
    workers: int = 4
    settle_timeout: float = 300.0
    load_seconds: float = 60.0  # the load is paced over this long, so the faults strike while it runs
    kafka_every: int = 10  # every n-th claim goes through the Kafka ingress instead of HTTP
    broker: str = "embedded"  # or "apache": a cluster of `brokers` nodes
    brokers: int = 1
    leader_kills: int = 0  # SIGKILL the leader of an ipe.claim-events partition (apache)
    coordinator_kills: int = 0  # SIGKILL the projector group's coordinator (apache)
    rolling_restarts: int = 0  # SIGTERM every node in turn, each back in sync before the next (apache)
    wipes: int = 0  # stop a node, delete its partitions, start it (apache)
    max_pause: float = 60.0  # on apache, decisions must flow again within this after each fault
    fault_window: float = 0.9  # faults strike before this share of the claims is accepted


@dataclass
class Load:
    """What the submitting side saw."""

    accepted: dict[str, str] = field(default_factory=dict)  # idempotency key -> claim id (HTTP 201)
    published: dict[str, str] = field(default_factory=dict)  # submission id -> claim id (broker acks)
    secrets: set[str] = field(default_factory=set)  # names, CIN and salaries that must stay out of the logs
    refused: Counter[str] = field(default_factory=Counter)  # 4xx code -> count (none expected)
    retries: Counter[str] = field(default_factory=Counter)  # why a request was repeated
    lock: threading.Lock = field(default_factory=threading.Lock)


@dataclass
class Faults:
    done: Counter[str] = field(default_factory=Counter)
    log: list[str] = field(default_factory=list)
    strikes: list[Strike] = field(default_factory=list)


def _claims_and_declarations(
    plan: Plan, rng: random.Random
) -> tuple[list[dict[str, object]], list[list[object]]]:
    """One claim per insured (a second would be refused as open); a tenth resign, a tenth lack days."""
    loss = Settings.from_env().clock().today() - timedelta(days=3)  # the clock of the system under test
    affiliations = [str(rng.randrange(10**6, 10**7)) for _ in range(max(1, plan.claims // 500))]
    numbers = rng.sample(range(10**8, 10**9), plan.claims)
    claims, rows = [], []
    for i, number in enumerate(numbers):
        affiliation = affiliations[i % len(affiliations)]
        months = 38 if rng.random() > 0.1 else 8
        salary = f"{rng.randrange(2000, 9000)}.37"  # centimes no other figure in the logs has
        for period in months_before(loss, months):
            rows.append(
                [
                    affiliation,
                    number,
                    f"CIN{number}",
                    "CHAOSNOM",
                    "CHAOSPRENOM",
                    period.strftime("%Y-%m"),
                    26,
                    salary,
                ]
            )
        motif = "demission" if rng.random() < 0.1 else "licenciement_economique"
        claims.append({"affiliation_number": affiliation, "immatriculation": str(number),
                       "job_loss_date": loss.isoformat(), "motif_code": motif, "attestation": True})  # fmt: skip
    return claims, rows


def _submit(system: ChaosSystem, token: str, jobs: queue.Queue[tuple[int, str, dict[str, object]]], load: Load,
            pace: float, deadline: float) -> None:  # fmt: skip
    """Send each claim until it gets an answer that is not a fault (same Idempotency-Key each time).

    Claim ``i`` leaves no earlier than ``i * pace`` seconds after the start."""
    started = time.monotonic()
    url = system.url
    headers = {"Authorization": f"Bearer {token}"}
    with httpx.Client(timeout=30) as client:
        while True:
            try:
                i, key, body = jobs.get_nowait()
            except queue.Empty:
                return
            time.sleep(max(0.0, started + i * pace - time.monotonic()))
            while time.monotonic() < deadline:
                try:
                    response = client.post(f"{url}/api/v1/claims", json=body,
                                           headers=headers | {"Idempotency-Key": key})  # fmt: skip
                except httpx.HTTPError as exc:
                    load.retries[type(exc).__name__] += 1
                    time.sleep(0.3)
                    continue
                if response.status_code == 201:
                    with load.lock:
                        load.accepted[key] = response.json()["claim_id"]
                    break
                if response.status_code in RETRYABLE:
                    load.retries[f"HTTP {response.status_code}"] += 1
                    time.sleep(float(response.headers.get("Retry-After", "0.3")))
                    continue
                if response.status_code == 401:  # a token row lost to a crash mid-issue: ask again
                    load.retries["HTTP 401"] += 1
                    headers = {"Authorization": f"Bearer {system.token(USERNAME, PASSWORD, deadline)}"}
                    continue
                load.refused[f"{response.status_code} {response.json()['error']['code']}"] += 1
                break


def _publish(system: ChaosSystem, jobs: list[tuple[int, str, dict[str, object]]], load: Load, pace: float,
             deadline: float) -> None:  # fmt: skip
    """Publish ClaimSubmissions to the ingress topic as a portal does: until the broker acknowledges."""
    from kafka.errors import KafkaError

    from ipe_claims.adapters.avro import AvroCodec
    from ipe_claims.adapters.kafka import make_producer
    from ipe_claims.application.intake import claim_id_for
    from ipe_claims.settings import Settings

    shown = json.loads(system.ipe("portals", "show", PORTAL, "--json").stdout)
    settings = Settings().changed(
        database={"url": ""},
        kafka={
            "bootstrap_servers": shown["bootstrap_servers"],
            "security_protocol": shown["security_protocol"],
            "sasl_mechanism": shown["sasl_mechanism"] or "",
            "sasl_username": PORTAL,
            "sasl_password": PORTAL_PASSWORD,
        },
    )
    codec = AvroCodec(settings.schemas_dir)
    producer = None
    started = time.monotonic()
    for i, key, body in jobs:
        time.sleep(max(0.0, started + i * pace - time.monotonic()))
        message = {"submission_id": key, "portal": PORTAL, "affiliation_number": body["affiliation_number"],
                   "immatriculation": body["immatriculation"], "motif_code": body["motif_code"],
                   "job_loss_date": date.fromisoformat(str(body["job_loss_date"])), "attestation": True}  # fmt: skip
        while time.monotonic() < deadline:
            try:
                producer = producer or make_producer(settings, max_block_ms=5000)
                producer.send(
                    shown["topic"], key=key.encode(), value=codec.encode("ClaimSubmission", message)
                ).get(10)
                break
            except KafkaError as exc:
                load.retries[f"kafka {type(exc).__name__}"] += 1
                if producer is not None:
                    _close(producer, timeout=1)
                producer = None
                time.sleep(0.3)
        else:
            continue  # never acknowledged: not published (the tally sees a submission missing)
        with load.lock:
            load.published[key] = str(claim_id_for(PORTAL, key))
    if producer is not None:
        _close(producer, timeout=2)


def _close(producer: KafkaProducer, timeout: float) -> None:
    """Close the producer within about ``timeout`` s. kafka-python's ``close`` first flushes, and a flush
    that times out (records the broker never took) raises and leaves the producer open, for the garbage
    collector to close again, raising in ``__del__``. Those records' sends failed already (retried on a
    new producer), so they are dropped: the sender is closed by force, which fails them, then closed."""
    from kafka.errors import KafkaError

    try:
        producer.close(timeout=timeout)
    except KafkaError:
        producer._sender.force_close()  # the only way kafka-python gives to drop pending records
        producer._sender.join(timeout)
        with contextlib.suppress(KafkaError):
            producer.close(timeout=timeout)


def _fault_schedule(plan: Plan, services: list[str], rng: random.Random) -> list[tuple[int, str]]:
    """(claims accepted before it strikes, fault), in the seed's order, spread over the load."""
    faults = [f"kill {name}" for name in services for _ in range(plan.kills_per_service)]
    faults += ["restart broker"] * plan.broker_restarts + ["restart postgres"] * plan.postgres_restarts
    faults += [f"kill leader {rng.randrange(12)}" for _ in range(plan.leader_kills)]
    faults += ["kill coordinator"] * plan.coordinator_kills + ["rolling restart"] * plan.rolling_restarts
    faults += [f"wipe node {rng.randint(1, plan.brokers)}" for _ in range(plan.wipes)]
    rng.shuffle(faults)
    marks = sorted(rng.randrange(plan.claims // 20, int(plan.claims * plan.fault_window)) for _ in faults)
    return list(zip(marks, faults, strict=True))


def _inflict(system: ChaosSystem, schedule: list[tuple[int, str]], load: Load, faults: Faults,
             stop: threading.Event) -> None:  # fmt: skip
    kafka = KafkaFaults.of(system) if system.broker == "apache" else None

    def mark(label: str) -> None:
        faults.strikes.append(Strike(label, time.monotonic(), len(load.accepted) + len(load.published)))

    for at, fault in schedule:
        while len(load.accepted) + len(load.published) < at:
            if stop.wait(0.05):
                return
        started, struck = time.monotonic(), len(faults.strikes)
        if fault == "restart broker":
            mark("SIGKILL the embedded broker (it comes back empty)")
            system.kill_broker()
        elif fault == "restart postgres":
            mark("Postgres stopped (immediate), restarted")
            system.crash_postgres()
        elif fault.startswith("kill leader "):
            assert kafka is not None
            kafka.kill_leader(int(fault.rsplit(" ", 1)[1]), mark)
        elif fault == "kill coordinator":
            assert kafka is not None
            kafka.kill_coordinator(mark)
        elif fault == "rolling restart":
            assert kafka is not None
            kafka.rolling_restart(mark, lambda: _in_sync(kafka, faults))
        elif fault.startswith("wipe node "):
            assert kafka is not None
            kafka.wipe(int(fault.rsplit(" ", 1)[1]), mark)
        else:
            mark(f"SIGKILL {fault.removeprefix('kill ')}")
            system.kill_service(fault.removeprefix("kill "))
        if kafka is not None and faults.strikes[-1].in_sync_after is None:
            _in_sync(kafka, faults)
        faults.done[fault.rsplit(" ", 1)[0] if fault[-1].isdigit() else fault] += 1
        faults.log.append(
            f"{faults.strikes[struck].accepted:>6} accepted: {fault} ({time.monotonic() - started:.1f}s)"
        )


def _in_sync(kafka: KafkaFaults, faults: Faults) -> None:
    """The next fault waits for a whole cluster: one node down and another killed is a lost quorum,
    not an election (and min.insync.replicas=2 would rightly stop the writes)."""
    kafka.wait_in_sync()
    strike = faults.strikes[-1]
    strike.in_sync_after = time.monotonic() - strike.at


def run(plan: Plan, home: Path, report: list[str] | None = None) -> Tally:
    """Start a system, load it under faults, wait for it to settle, and count."""
    rng = random.Random(plan.seed)
    claims, rows = _claims_and_declarations(plan, rng)
    system = ChaosSystem.start(home, broker=plan.broker, brokers=plan.brokers)
    try:
        system.load_declarations(home / "declarations.csv", rows)
        affiliations = sorted({str(c["affiliation_number"]) for c in claims})
        system.create_employer(USERNAME, PASSWORD, affiliations)
        system.create_portal(PORTAL, PORTAL_PASSWORD, affiliations)
        deadline = time.monotonic() + plan.settle_timeout + plan.claims / 5
        token = system.token(USERNAME, PASSWORD, deadline)
        jobs: queue.Queue[tuple[int, str, dict[str, object]]] = queue.Queue()
        kafka_jobs = []
        for i, claim in enumerate(claims):
            if plan.kafka_every and i % plan.kafka_every == plan.kafka_every - 1:
                kafka_jobs.append((i, f"chaos-kafka-{plan.seed}-{i}", claim))
            else:
                jobs.put((i, f"chaos-{plan.seed}-{i}", claim))
        load, faults, stop = Load(), Faults(), threading.Event()
        load.secrets = (
            {"CHAOSNOM", "CHAOSPRENOM"} | {str(row[2]) for row in rows} | {str(row[7]) for row in rows}
        )
        schedule = _fault_schedule(plan, sorted(system.status()["services"]), rng)
        injector = threading.Thread(target=_inflict, args=(system, schedule, load, faults, stop))
        pace = plan.load_seconds / plan.claims
        workers = [threading.Thread(target=_submit, args=(system, token, jobs, load, pace, deadline))
                   for _ in range(plan.workers)]  # fmt: skip
        workers.append(threading.Thread(target=_publish, args=(system, kafka_jobs, load, pace, deadline)))
        watch = DecisionWatch(system.database_url)
        watch.start()
        started = time.monotonic()
        for thread in [injector, *workers]:
            thread.start()
        for worker in workers:
            worker.join()
        load_seconds = time.monotonic() - started
        stop.set()
        injector.join()
        result = tally(system, load, faults, plan, deadline)
        watch.stop()
        _pause_table(result, plan, faults, watch.seen, started)
        result.notes.append(f"load of {plan.claims} claims took {load_seconds:.0f}s; seed {plan.seed}")
        if report is not None:
            report.extend(faults.log)
        return result
    finally:
        system.stop()


def _pause_table(result: Tally, plan: Plan, faults: Faults, seen: list[float], started: float) -> None:
    """The pause after each fault, into the result; on a replicated cluster a long one is a problem."""
    rows = pauses(faults.strikes, seen)
    result.pauses = table(rows, started, baseline(faults.strikes, seen))
    if plan.broker != "apache":
        return
    for row in rows:
        if row.longest is not None and row.longest > plan.max_pause:
            result.problems.append(f"decisions stopped {row.longest:.0f}s after: {row.strike.label}")
