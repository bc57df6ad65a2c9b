"""Hostile bytes on the topics: the Avro decoding and the consumer handlers fail only with AvroDecodeError.

AvroDecodeError is what TrackedConsumer dead-letters (with its reason) before moving on; any other
exception would make it retry the same record forever, a stopped consumer in all but name.
"""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from kafka.consumer.fetcher import ConsumerRecord

from ipe_claims.adapters.avro import MARKER, AvroCodec, AvroDecodeError
from ipe_claims.application.clock import FixedClock
from ipe_claims.settings import REPO_ROOT
from services.eligibility_projector.projector import EligibilityProjector
from services.notifier.messages import MessageRenderer
from services.notifier.notifier import Notifier

CODEC = AvroCodec(REPO_ROOT / "schemas")
FINGERPRINTS = sorted(CODEC.by_fingerprint)
CLAIM_ID = uuid.uuid4()


def _valid_messages() -> list[bytes]:
    common = {"event_id": uuid.uuid4(), "claim_id": CLAIM_ID, "version": 1,
              "occurred_at": datetime(2026, 11, 2, tzinfo=UTC)}  # fmt: skip
    submitted = common | {"affiliation_number": "1234567", "immatriculation": "100000001", "cin": "BE1",
                          "nom": "N", "prenoms": "P", "job_loss_date": date(2026, 11, 1),
                          "motif_code": "fin_cdd", "attestation": True,
                          "filed_at": datetime(2026, 11, 2, tzinfo=UTC), "submitted_by": "demo",
                          "channel": "http"}  # fmt: skip
    submission = {"submission_id": "s-1", "portal": "damancom", "affiliation_number": "1234567",
                  "immatriculation": "100000001", "job_loss_date": date(2026, 11, 2), "motif_code": "fin_cdd",
                  "attestation": True}  # fmt: skip
    return [CODEC.encode("ClaimSubmitted", submitted), CODEC.encode("ClaimSubmission", submission)]


VALID = _valid_messages()


def _decode_or_refuse(data: bytes) -> None:
    try:
        name, record = CODEC.decode(data)
    except AvroDecodeError as refusal:
        assert str(refusal)  # every refusal has its reason, for the dead-letter record
        return
    # Whatever decodes is a whole record of a known schema, every field present.
    fields = {field["name"] for field in CODEC.latest[name].schema["fields"]}
    assert set(record) == fields


@given(st.binary(max_size=300))
def test_arbitrary_bytes_are_refused_with_a_reason(data: bytes) -> None:
    _decode_or_refuse(data)


@given(st.sampled_from(FINGERPRINTS), st.binary(max_size=400))
def test_a_known_schema_with_a_random_body_is_refused_or_read_whole(fingerprint: bytes, body: bytes) -> None:
    _decode_or_refuse(MARKER + fingerprint + body)


@given(st.sampled_from(VALID), st.data())
def test_mutated_messages_are_refused_or_read_whole(message: bytes, data: st.DataObject) -> None:
    mutated = bytearray(message)
    for _ in range(data.draw(st.integers(1, 6))):
        action = data.draw(st.sampled_from(["flip", "cut", "grow", "drop"]))
        at = data.draw(st.integers(0, max(0, len(mutated) - 1)))
        if action == "flip" and mutated:
            mutated[at] ^= data.draw(st.integers(1, 255))
        elif action == "cut":
            del mutated[at:]
        elif action == "grow":
            mutated[at:at] = data.draw(st.binary(min_size=1, max_size=20))
        elif mutated:
            del mutated[at]
    _decode_or_refuse(bytes(mutated))


class Untouchable:
    """Stands for the database and the store: a handler must not reach them before decoding."""

    def __getattr__(self, name: str) -> Any:
        raise AssertionError(f"the handler used {name} on a message it could not decode")


def _undecodable(data: bytes) -> bool:
    try:
        CODEC.decode(data)
    except AvroDecodeError:
        return True
    return False


NOTIFIER = Notifier(Untouchable(), CODEC, MessageRenderer())  # type: ignore[arg-type]
HANDLERS = {
    "projector": EligibilityProjector(Untouchable(), CODEC, FixedClock()).handle,  # type: ignore[arg-type]
    "notifier": lambda conn, record: NOTIFIER.handle_batch(conn, [record]),
}


@pytest.mark.parametrize("handler", sorted(HANDLERS))
@settings(suppress_health_check=[HealthCheck.filter_too_much, HealthCheck.function_scoped_fixture])
@given(value=st.one_of(st.none(), st.binary(max_size=200),
                       st.builds(lambda f, b: MARKER + f + b, st.sampled_from(FINGERPRINTS), st.binary(max_size=200))
                       ).filter(lambda v: v is None or _undecodable(v)))  # fmt: skip
def test_consumer_handlers_raise_only_avro_decode_error(handler: str, value: bytes | None) -> None:
    record = ConsumerRecord("ipe.claim-events", 0, -1, 7, 0, 0, b"k", value, [], None, -1, -1, -1)
    with pytest.raises(AvroDecodeError):
        HANDLERS[handler](Untouchable(), record)  # type: ignore[arg-type]
