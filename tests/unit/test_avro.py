"""The Avro single-object codec over schemas/: round trips, the header, and refusals with reasons."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, date, datetime
from pathlib import Path

import pytest
from fastavro.schema import fingerprint, to_parsing_canonical_form

from ipe_claims.adapters.avro import MARKER, AvroCodec, AvroDecodeError
from ipe_claims.settings import REPO_ROOT

SCHEMAS = REPO_ROOT / "schemas"


@pytest.fixture(scope="module")
def codec() -> AvroCodec:
    return AvroCodec(SCHEMAS)


def submission() -> dict[str, object]:
    return {"submission_id": "s-1", "portal": "damancom", "affiliation_number": "1234567",
            "immatriculation": "100000001", "job_loss_date": date(2026, 11, 2), "motif_code": "fin_cdd",
            "attestation": True}  # fmt: skip


def test_round_trip_and_single_object_header(codec: AvroCodec) -> None:
    data = codec.encode("ClaimSubmission", submission())
    assert data[:2] == MARKER
    canonical = to_parsing_canonical_form(json.loads((SCHEMAS / "ClaimSubmission.v1.avsc").read_text()))
    assert data[2:10] == bytes.fromhex(
        fingerprint(canonical, "CRC-64-AVRO")
    )  # little-endian, as the spec says
    assert codec.decode(data) == ("ClaimSubmission", submission())


def test_decided_event_round_trips_with_outcomes(codec: AvroCodec) -> None:
    claim_id = uuid.uuid4()
    record = {
        "event_id": uuid.uuid5(claim_id, "2"), "claim_id": claim_id, "version": 2,
        "occurred_at": datetime(2026, 11, 3, 10, 0, tzinfo=UTC), "situation": "Rejeté",
        "ruleset_version": "ipe-2014.1", "rejection_code": "filed_late", "rejection_reason_fr": "Hors délai",
        "rejection_reason_ar": "خارج الأجل", "reference_salary": None, "monthly_amount": None,
        "duration_months": None, "smig_monthly": "3422.72", "days_36": 936, "days_12": 312,
        "outcomes": [{"rule": "filed_in_time", "passed": False, "code": "filed_late", "reason_fr": "x",
                      "reason_ar": "y", "figures": {"delay_days": "61"}}],
        "decided_by": "ipe-eligibility-projector",
    }  # fmt: skip
    name, decoded = codec.decode(codec.encode("ClaimDecided", record))
    assert name == "ClaimDecided"
    assert decoded == record


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        (b"", "marker"),
        (b'{"json": true}', "marker"),
        (MARKER + b"\x00" * 8 + b"body", "unknown writer schema"),
    ],
)
def test_unreadable_bytes_are_refused_with_a_reason(codec: AvroCodec, data: bytes, reason: str) -> None:
    with pytest.raises(AvroDecodeError, match=reason):
        codec.decode(data)


def test_truncated_or_padded_bodies_are_refused(codec: AvroCodec) -> None:
    data = codec.encode("ClaimSubmission", submission())
    with pytest.raises(AvroDecodeError):
        codec.decode(data[:-3])
    with pytest.raises(AvroDecodeError, match="trailing"):
        codec.decode(data + b"\x00")


def test_newest_version_reads_old_messages(tmp_path: Path) -> None:
    """A v2 with a new optional field reads v1 messages (Avro resolution)."""
    v1 = json.loads((SCHEMAS / "ClaimSubmission.v1.avsc").read_text())
    (tmp_path / "ClaimSubmission.v1.avsc").write_text(json.dumps(v1))
    old = AvroCodec(tmp_path).encode("ClaimSubmission", submission())
    v2 = v1 | {"fields": [*v1["fields"], {"name": "channel", "type": ["null", "string"], "default": None}]}
    (tmp_path / "ClaimSubmission.v2.avsc").write_text(json.dumps(v2))
    assert AvroCodec(tmp_path).decode(old) == ("ClaimSubmission", submission() | {"channel": None})


def test_schema_files_must_be_named_with_their_version(tmp_path: Path) -> None:
    (tmp_path / "ClaimSubmission.avsc").write_text((SCHEMAS / "ClaimSubmission.v1.avsc").read_text())
    with pytest.raises(ValueError, match=r"NAME\.vN\.avsc"):
        AvroCodec(tmp_path)
