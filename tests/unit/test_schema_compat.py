"""Schema evolution: every schema in schemas/ reads its previous versions; ClaimSubmitted v2 in both
directions; old stored events and old Kafka messages read by the new code."""

from __future__ import annotations

import io
import json
import shutil
import uuid
from datetime import UTC, date, datetime
from pathlib import Path

import pytest
from eventsourcing.persistence import StoredEvent
from fastavro import parse_schema, schemaless_reader

from ipe_claims.adapters.avro import AvroCodec
from ipe_claims.adapters.claim_messages import to_message, to_record
from ipe_claims.application.claims import ClaimsApplication
from ipe_claims.audit.schema_compat import read_problems, schema_versions, version_pairs
from ipe_claims.domain.claim import Claim
from ipe_claims.settings import REPO_ROOT

SCHEMAS = REPO_ROOT / "schemas"


def schema(name: str, version: int) -> dict[str, object]:
    return dict(schema_versions(SCHEMAS)[name])[version]


@pytest.mark.parametrize(("name", "old", "new"), version_pairs(SCHEMAS))
def test_each_version_reads_every_older_one(name: str, old: int, new: int) -> None:
    assert read_problems(schema(name, old), schema(name, new)) == []


def test_there_is_something_to_compare() -> None:
    assert ("ClaimSubmitted", 1, 2) in version_pairs(SCHEMAS)


def test_an_incompatible_change_is_caught() -> None:
    v1 = schema("ClaimSubmitted", 1)
    required = {"name": "portal_reference", "type": "string"}  # no default: v1 data cannot fill it
    broken = parse_schema(
        {**json.loads(json.dumps(v1)), "fields": [*v1["fields"], required]}, _write_hint=False
    )
    assert read_problems(v1, broken)
    narrowed = {
        **v1,
        "fields": [f if f["name"] != "version" else {**f, "type": "string"} for f in v1["fields"]],
    }
    assert read_problems(v1, parse_schema(narrowed, _write_hint=False))


def test_a_v2_message_is_readable_by_a_v1_consumer() -> None:
    """Forward compatibility: the old reader ignores the new field (it needs the v2 file as writer schema)."""
    assert read_problems(schema("ClaimSubmitted", 2), schema("ClaimSubmitted", 1)) == []


def submitted_event() -> Claim.Submitted:
    claim = Claim.submit(
        uuid.uuid4(), affiliation_number="1234567", immatriculation="100000001", cin="AB123", nom="NOM",
        prenoms="PRENOM", job_loss_date=date(2026, 10, 30), motif_code="fin_cdd", attestation=True,
        filed_at=datetime(2026, 10, 31, 23, 30, tzinfo=UTC), submitted_by="demo", channel="http",
    )  # fmt: skip
    (event,) = claim.collect_events()
    assert isinstance(event, Claim.Submitted)
    return event


def test_new_code_writes_filed_on_as_the_casablanca_date() -> None:
    codec = AvroCodec(SCHEMAS)
    name, record = codec.decode(to_message(codec, submitted_event()).value)
    assert name == "ClaimSubmitted"
    assert record["filed_on"] == date(2026, 11, 1)  # 23:30 UTC is already the 1st in Casablanca (UTC+1)


def test_an_old_kafka_message_is_read_by_the_new_code(tmp_path: Path) -> None:
    shutil.copy(SCHEMAS / "ClaimSubmitted.v1.avsc", tmp_path)
    old_codec = AvroCodec(tmp_path)
    _, record = to_record(submitted_event())
    old_message = old_codec.encode("ClaimSubmitted", {k: v for k, v in record.items() if k != "filed_on"})
    name, read = AvroCodec(SCHEMAS).decode(old_message)
    assert name == "ClaimSubmitted"
    assert read["filed_on"] is None
    assert str(read["claim_id"]) == record["claim_id"] and read["nom"] == "NOM"


def test_a_new_message_read_with_the_v1_reader_schema() -> None:
    codec = AvroCodec(SCHEMAS)
    data = to_message(codec, submitted_event()).value
    assert data[2:10] == codec.latest["ClaimSubmitted"].fingerprint
    old = schemaless_reader(io.BytesIO(data[10:]), schema("ClaimSubmitted", 2), schema("ClaimSubmitted", 1))
    assert "filed_on" not in old and old["motif_code"] == "fin_cdd"


def test_an_event_stored_by_the_v1_code_is_read_and_published_as_v2() -> None:
    """The stored event did not change shape, so it needs no upcaster: old bytes map as they are."""
    app = ClaimsApplication(env={"PERSISTENCE_MODULE": "eventsourcing.popo"})
    claim_id = uuid.uuid4()
    state = {
        "timestamp": {"_type_": "datetime_iso", "_data_": "2026-10-31T23:30:00.123456+00:00"},
        "originator_topic": "ipe_claims.domain.claim:Claim", "affiliation_number": "1234567",
        "immatriculation": "100000001", "cin": "AB123", "nom": "NOM", "prenoms": "PRENOM",
        "job_loss_date": {"_type_": "date_iso", "_data_": "2026-10-30"}, "motif_code": "fin_cdd",
        "attestation": True, "filed_at": {"_type_": "datetime_iso", "_data_": "2026-10-31T23:30:00+00:00"},
        "submitted_by": "demo", "channel": "http",
    }  # fmt: skip
    stored = StoredEvent(claim_id, 1, "ipe_claims.domain.claim:Claim.Submitted", json.dumps(state).encode())
    event = app.mapper.to_domain_event(stored)
    name, record = to_record(event)
    assert name == "ClaimSubmitted" and record["filed_on"] == date(2026, 11, 1)
    assert AvroCodec(SCHEMAS).decode(AvroCodec(SCHEMAS).encode(name, record))[1]["filed_on"] == date(
        2026, 11, 1
    )
    app.close()
