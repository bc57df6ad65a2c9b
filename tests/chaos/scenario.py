"""The chaos scenario: a load of claims over HTTP while services, the broker and Postgres are killed.

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

import httpx

from ipe_claims.domain.contributions import months_before
from tests.chaos.checks import Tally, tally
from tests.chaos.system import ChaosSystem

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


def _claims_and_declarations(
    plan: Plan, rng: random.Random
) -> tuple[list[dict[str, object]], list[list[object]]]:
    """One claim per insured (a second would be refused as open); a tenth resign, a tenth lack days."""
    loss = date.today() - timedelta(days=3)
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
    from ipe_claims.intake import claim_id_for
    from ipe_claims.settings import Settings

    shown = json.loads(system.ipe("portals", "show", PORTAL, "--json").stdout)
    settings = Settings(database_url="", kafka_bootstrap_servers=shown["bootstrap_servers"],
                        kafka_security_protocol=shown["security_protocol"],
                        kafka_sasl_mechanism=shown["sasl_mechanism"] or "", kafka_sasl_username=PORTAL,
                        kafka_sasl_password=PORTAL_PASSWORD)  # fmt: skip
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
                    with contextlib.suppress(KafkaError):  # closing flushes: it fails as the send did
                        producer.close(timeout=1)
                producer = None
                time.sleep(0.3)
        else:
            continue  # never acknowledged: not published (the tally sees a submission missing)
        with load.lock:
            load.published[key] = str(claim_id_for(PORTAL, key))
    if producer is not None:
        with contextlib.suppress(KafkaError):
            producer.close(timeout=2)


def _fault_schedule(plan: Plan, services: list[str], rng: random.Random) -> list[tuple[int, str]]:
    """(claims accepted before it strikes, fault), in the seed's order, spread over the load."""
    faults = [f"kill {name}" for name in services for _ in range(plan.kills_per_service)]
    faults += ["restart broker"] * plan.broker_restarts + ["restart postgres"] * plan.postgres_restarts
    rng.shuffle(faults)
    marks = sorted(rng.randrange(plan.claims // 20, plan.claims * 9 // 10) for _ in faults)
    return list(zip(marks, faults, strict=True))


def _inflict(system: ChaosSystem, schedule: list[tuple[int, str]], load: Load, faults: Faults,
             stop: threading.Event) -> None:  # fmt: skip
    for mark, fault in schedule:
        while len(load.accepted) + len(load.published) < mark:
            if stop.wait(0.05):
                return
        started = time.monotonic()
        if fault == "restart broker":
            system.kill_broker()
        elif fault == "restart postgres":
            system.crash_postgres()
        else:
            system.kill_service(fault.removeprefix("kill "))
        faults.done[fault] += 1
        faults.log.append(
            f"{len(load.accepted) + len(load.published):>6} accepted: {fault} ({time.monotonic() - started:.1f}s)"
        )


def run(plan: Plan, home: Path, report: list[str] | None = None) -> Tally:
    """Start a system, load it under faults, wait for it to settle, and count."""
    rng = random.Random(plan.seed)
    claims, rows = _claims_and_declarations(plan, rng)
    system = ChaosSystem.start(home)
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
        started = time.monotonic()
        for thread in [injector, *workers]:
            thread.start()
        for worker in workers:
            worker.join()
        load_seconds = time.monotonic() - started
        stop.set()
        injector.join()
        result = tally(system, load, faults, plan, deadline)
        result.notes.append(f"load of {plan.claims} claims took {load_seconds:.0f}s; seed {plan.seed}")
        if report is not None:
            report.extend(faults.log)
        return result
    finally:
        system.stop()
