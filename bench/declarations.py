"""Declarations: the bulk CSV load against raw COPY, and the Kafka consumer against raw kafka-python."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from kafka import KafkaConsumer, TopicPartition

from bench.data import history_rows, workers, write_csv
from bench.system import System, wait_until
from ipe_claims.adapters.avro import AvroCodec
from ipe_claims.adapters.declarations import load_csv
from ipe_claims.adapters.declarations_kafka import CONSUMER_NAME, publish
from ipe_claims.adapters.kafka import make_producer
from ipe_claims.settings import DECLARATIONS_TOPIC, TOPIC_PARTITIONS

RAW_TABLE = (
    "CREATE TABLE IF NOT EXISTS bench_raw_declarations (affiliation_number text, immatriculation text, cin text, "
    "nom text, prenoms text, period text, days int, salary numeric(12,2))"
)


def raw_copy(system: System, path: Path) -> float:
    """What a thin script does: COPY the file as is into an unindexed table. Seconds."""
    with system.connect() as conn:
        conn.execute(RAW_TABLE)
        conn.execute("TRUNCATE bench_raw_declarations")
        started = time.perf_counter()
        with conn.transaction(), path.open("rb") as handle:
            handle.readline()
            with conn.cursor().copy("COPY bench_raw_declarations FROM STDIN WITH (FORMAT csv)") as copy:
                while chunk := handle.read(1 << 20):
                    copy.write(chunk)
        elapsed = time.perf_counter() - started
        conn.execute("DROP TABLE bench_raw_declarations")
    return elapsed


def ingest(system: System, insured: int, work: Path) -> dict[str, Any]:
    path = work / "declarations.csv"
    rows = write_csv(path, history_rows(workers(insured)))
    baseline_s = min(raw_copy(system, path), raw_copy(system, path))
    with system.connect() as conn:
        started = time.perf_counter()
        report = load_csv(conn, path)
        elapsed = time.perf_counter() - started
    vacuum(system)
    assert report.rows == rows, (report, rows)
    path.unlink()
    return {"value": rows / elapsed, "unit": "rows/s", "baseline": rows / baseline_s, "rows": rows,
            "seconds": round(elapsed, 2), "baseline_seconds": round(baseline_s, 2), "target_ratio": 0.5}  # fmt: skip


def vacuum(system: System) -> float:
    """What operations does after a monthly load (docs/operations.md), outside the measured window:
    otherwise autovacuum visits the million new rows at a moment of its choosing, and its writes land in
    whichever claims scenario runs then. Seconds."""
    started = time.perf_counter()
    with system.connect() as conn:
        conn.execute("VACUUM ANALYZE declarations")
        conn.execute("VACUUM ANALYZE insured")
    return round(time.perf_counter() - started, 2)


def raw_consume(system: System, expected: int) -> float:
    """kafka-python reading every message of the topic, no decoding, no database: rows/s from the first
    record to the last."""
    consumer = KafkaConsumer(bootstrap_servers=system.settings.kafka.bootstrap_servers, enable_auto_commit=False,
                             fetch_max_wait_ms=100, max_poll_records=2000, max_partition_fetch_bytes=4 << 20)  # fmt: skip
    partitions = [TopicPartition(DECLARATIONS_TOPIC, p) for p in range(TOPIC_PARTITIONS[DECLARATIONS_TOPIC])]
    consumer.assign(partitions)
    consumer.seek_to_beginning(*partitions)
    seen, first = 0, 0.0
    deadline = time.monotonic() + 600
    while seen < expected and time.monotonic() < deadline:
        for records in consumer.poll(timeout_ms=500).values():
            if not first:
                first = time.perf_counter()
            seen += len(records)
    consumer.close()
    return seen / (time.perf_counter() - first)


def kafka(system: System, rows: int, first_worker: int) -> dict[str, Any]:
    """Lines for workers not yet known (12 months each) published with the service stopped, then the
    ``declarations`` service drains the backlog: rows/s from its first committed batch to its last."""
    people = workers(max(1, rows // 12), first=first_worker)
    producer = make_producer(system.settings, linger_ms=20, batch_size=256 * 1024)
    sent = publish(producer, AvroCodec(system.settings.schemas_dir), history_rows(people, months=12))
    producer.close()
    baseline = raw_consume(system, sent)

    def position() -> int:
        with system.connect() as conn:
            row = conn.execute("SELECT coalesce(sum(next_offset), 0) FROM consumer_positions WHERE consumer = %s",
                               (CONSUMER_NAME,)).fetchone()  # fmt: skip
        return int(row[0]) if row else 0

    launched = time.perf_counter()
    system.run("declarations")
    first = wait_until(lambda: (p := position()) and (p, time.perf_counter()), 120, "a first batch", 0.05)
    done = wait_until(lambda: position() >= sent and time.perf_counter(), 900, "the backlog", 0.05)
    if first[0] < sent:
        value, measured = (sent - first[0]) / (done - first[1]), "from the first committed batch to the last"
    else:  # a backlog smaller than one batch: count the process start and group join in
        value, measured = sent / (done - launched), "from process start (backlog fit in one batch)"
    return {"value": value, "unit": "rows/s", "baseline": baseline, "rows": sent, "measured": measured,
            "target_ratio": 0.5, "vacuum_seconds_after": vacuum(system)}  # fmt: skip
