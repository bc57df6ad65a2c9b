"""A client no one here wrote: confluent-kafka (librdkafka) reads ipe.claim-events from the harness's
broker, and every message decodes with nothing but ``schemas/`` and fastavro, as the Avro
specification's single-object encoding says (marker C3 01, CRC-64-AVRO fingerprint of the parsing
canonical form, little-endian, then the binary body). No code of ours reads the messages."""

from __future__ import annotations

import io
import json
import uuid
from typing import Any

import psycopg
import pytest
from confluent_kafka import OFFSET_BEGINNING, Consumer, TopicPartition
from fastavro import parse_schema, schemaless_reader
from fastavro.schema import fingerprint, to_parsing_canonical_form

from ipe_claims.application.claims import ClaimsApplication
from ipe_claims.settings import CLAIM_EVENTS_TOPIC, Settings
from tests.conftest import declare, wait_for
from tests.integration.conftest import Pipeline
from tests.integration.test_pipeline import decided_row, submit

pytestmark = pytest.mark.integration


def _writers(settings: Settings) -> dict[bytes, tuple[str, Any]]:
    """Each schema file by the 8 bytes a message carries after the marker."""
    writers = {}
    for path in settings.schemas_dir.glob("*.avsc"):
        parsed = parse_schema(json.loads(path.read_text()))
        digest = bytes.fromhex(fingerprint(to_parsing_canonical_form(parsed), "CRC-64-AVRO"))
        writers[digest] = (path.name, parsed)
    return writers


def _every_message(settings: Settings) -> list[Any]:
    """The whole topic, each partition from its start to its high watermark, without a group."""
    consumer = Consumer({"bootstrap.servers": settings.kafka.bootstrap_servers, "group.id": f"t-{uuid.uuid4()}",
                         "enable.auto.commit": False, "api.version.request": True})  # fmt: skip
    try:
        partitions = (
            consumer.list_topics(CLAIM_EVENTS_TOPIC, timeout=10).topics[CLAIM_EVENTS_TOPIC].partitions
        )
        ends = {p: consumer.get_watermark_offsets(TopicPartition(CLAIM_EVENTS_TOPIC, p), timeout=10)[1]
                for p in partitions}  # fmt: skip
        consumer.assign([TopicPartition(CLAIM_EVENTS_TOPIC, p, OFFSET_BEGINNING) for p in ends if ends[p]])
        messages: list[Any] = []
        remaining = sum(ends.values())
        while remaining > 0:
            message = wait_for(lambda: consumer.poll(1.0), timeout=20, what="a message from librdkafka")
            assert message.error() is None, message.error()
            if message.offset() < ends[message.partition()]:
                messages.append(message)
                remaining -= 1
        return messages
    finally:
        consumer.close()


def _decode(writers: dict[bytes, tuple[str, Any]], value: bytes) -> tuple[str, dict[str, Any]]:
    assert value[:2] == b"\xc3\x01", "not Avro single-object encoding"
    name, schema = writers[value[2:10]]
    body = io.BytesIO(value[10:])
    record = schemaless_reader(body, schema, None)
    assert body.read() == b"", f"{name}: bytes left after the record"
    return name, record


def test_librdkafka_reads_every_claim_event_and_the_schemas_decode_it(
    pipeline: Pipeline, claims_app: ClaimsApplication, conn: psycopg.Connection[Any], settings: Settings
) -> None:
    claim_id = submit(claims_app, declare(conn, months=40))
    wait_for(lambda: decided_row(conn, claim_id), what="the decision")
    writers = _writers(settings)

    def schemas_by_claim() -> dict[str, list[str]] | None:
        """Every message decoded; the schema files of each claim's events, once the decision is there."""
        names: dict[str, list[str]] = {}
        for message in _every_message(settings):
            name, record = _decode(writers, message.value())
            names.setdefault(str(record["claim_id"]), []).append(name)
        return names if len(names.get(str(claim_id), [])) >= 2 else None

    names = wait_for(schemas_by_claim, timeout=30, what="the claim's decision on the topic")
    assert names[str(claim_id)][:2] == ["ClaimSubmitted.v2.avsc", "ClaimDecided.v1.avsc"]  # payments follow
