"""Claim events as Kafka messages: store event → Avro record + headers, keyed by claim id."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

from ipe_claims.adapters.avro import AvroCodec
from ipe_claims.adapters.kafka import headers
from ipe_claims.domain.claim import Claim, event_id
from ipe_claims.domain.dates import local_date

_SUBMITTED_FIELDS = (
    "affiliation_number",
    "immatriculation",
    "cin",
    "nom",
    "prenoms",
    "job_loss_date",
    "motif_code",
    "attestation",
    "filed_at",
    "submitted_by",
    "channel",
)


_LIFECYCLE: dict[type, tuple[str, ...]] = {
    Claim.AwaitingDeclaration: ("affiliation_number", "month", "due"),
    Claim.DeclarationWaitExpired: ("month", "observed_on"),
    Claim.ReturnedToWork: (
        "return_date",
        "declared_on",
        "months_due",
        "benefit_end",
        "late_notice",
        "declared_by",
    ),
}


@dataclass(frozen=True)
class Message:
    key: bytes
    value: bytes
    headers: list[tuple[str, bytes]]


def to_record(event: Any) -> tuple[str, dict[str, Any]]:
    """The Avro record name and body for a claim event from the store."""
    claim_id: uuid.UUID = event.originator_id
    common = {
        "event_id": str(event_id(claim_id, event.originator_version)),
        "claim_id": str(claim_id),
        "version": event.originator_version,
        "occurred_at": event.timestamp,
    }
    if isinstance(event, Claim.Submitted):
        submitted = {name: getattr(event, name) for name in _SUBMITTED_FIELDS}
        filed_on = local_date(event.filed_at)
        return "ClaimSubmitted", common | submitted | {"filed_on": filed_on}
    if isinstance(event, Claim.Decided):
        return "ClaimDecided", common | event.decision | {"decided_by": event.decided_by}
    for event_class, fields in _LIFECYCLE.items():
        if isinstance(event, event_class):
            return f"Claim{event_class.__name__}", common | {name: getattr(event, name) for name in fields}
    raise TypeError(f"not a claim event: {type(event).__name__}")


def to_message(codec: AvroCodec, event: Any) -> Message:
    name, record = to_record(event)
    return Message(
        key=record["claim_id"].encode(),
        value=codec.encode(name, record),
        headers=headers(
            event_type=name,
            event_id=record["event_id"],
            claim_id=record["claim_id"],
            occurred_at=record["occurred_at"].isoformat(),
        ),
    )
