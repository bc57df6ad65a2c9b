"""Claim events as Kafka messages: store event → Avro record + headers, keyed by claim id. The one
decoder of stored claim events: the relay, a replay and the notifier all read them through
``RecordDecoder``, the audit's history through ``to_record``.

``RecordDecoder`` builds the same record straight from a stored notification: the event store's mapper
decodes a state with the standard ``json`` module and a Python hook called for every JSON object (a
decided claim carries every rule's outcome, about 60 objects), which was most of what the relay and a
replay spent per event. ``orjson`` parses the same bytes several times faster; the transcoded values
(``{"_type_": …, "_data_": …}``: dates, instants) of a claim event are top-level attributes, decoded
here with the store's own transcodings. Whenever the state holds a transcoded value anywhere else
(counted in the raw bytes), is enciphered or compressed, or its class would be upcast, the event goes
through the mapper as before (``ClaimsApplication.to_event``): the record is the same either way.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Hashable, Mapping
from dataclasses import dataclass
from functools import partial
from typing import Any, Protocol, cast

import orjson
from eventsourcing.persistence import Notification, StoredEvent, Transcoding, find_id_convertor
from eventsourcing.utils import resolve_topic

from ipe_claims.adapters.avro import AvroCodec
from ipe_claims.adapters.kafka import headers
from ipe_claims.domain.claim import Claim, event_id
from ipe_claims.domain.dates import local_date

Record = tuple[str, dict[str, Any]]
_TYPE_KEY = b'"_type_"'

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
    # The RIB piece's digits stay in the event store: ClaimDocumentRecorded has no field for them.
    Claim.DocumentRecorded: ("kind", "status", "reason", "sha256", "agent", "agency"),
    Claim.ReviewRuled: ("involuntary", "reason", "agent", "agency"),
    Claim.ForceMajeureGranted: ("reason", "agent", "agency"),
    Claim.DossierExpired: ("deadline", "observed_on"),
    Claim.DossierReminderDue: ("deadline", "observed_on", "owed"),
    Claim.PaymentsScheduled: ("months", "amount_centimes"),
    Claim.PaymentIssued: ("month", "amount_centimes", "file_id"),
    Claim.PaymentsCancelled: ("months",),
}


@dataclass(frozen=True)
class Message:
    key: bytes
    value: bytes
    headers: list[tuple[str, bytes]]


def _record(
    cls: type, claim_id: uuid.UUID, version: int, attribute: Callable[[str], Any], with_event_id: bool = True
) -> Record:
    """The Avro record name and body of a claim event of class ``cls`` whose attributes ``attribute``
    gives (``getattr`` on a domain event, a lookup in its decoded state)."""
    common: dict[str, Any] = {"event_id": str(event_id(claim_id, version))} if with_event_id else {}
    common |= {"claim_id": str(claim_id), "version": version, "occurred_at": attribute("timestamp")}
    if issubclass(cls, Claim.Submitted):
        submitted = {name: attribute(name) for name in _SUBMITTED_FIELDS}
        filed_on = local_date(submitted["filed_at"])
        return "ClaimSubmitted", common | submitted | {"filed_on": filed_on}
    if issubclass(cls, Claim.Decided):
        return "ClaimDecided", common | attribute("decision") | {"decided_by": attribute("decided_by")}
    for event_class, fields in _LIFECYCLE.items():
        if issubclass(cls, event_class):
            return f"Claim{event_class.__name__}", common | {name: attribute(name) for name in fields}
    raise TypeError(f"not a claim event: {cls.__name__}")


def to_record(event: Any) -> Record:
    """The Avro record name and body for a claim event from the store."""
    return _record(type(event), event.originator_id, event.originator_version, partial(getattr, event))


def message_of(codec: AvroCodec, record: Record) -> Message:
    name, body = record
    return Message(
        key=body["claim_id"].encode(),
        value=codec.encode(name, body),
        headers=headers(
            event_type=name,
            event_id=body["event_id"],
            claim_id=body["claim_id"],
            occurred_at=body["occurred_at"].isoformat(),
        ),
    )


def to_message(codec: AvroCodec, event: Any) -> Message:
    return message_of(codec, to_record(event))


class StoredEvents(Protocol):
    """What the decoder needs of the claims application (``ClaimsApplication``), not its mapper."""

    def to_event(self, stored: StoredEvent) -> Any: ...

    def plain_transcodings(self) -> Mapping[str, Transcoding] | None: ...


class RecordDecoder:
    """``to_record(store.to_event(n))`` of a stored claim notification, without the mapper when the
    state allows. Without ``with_event_id`` the record leaves out its ``event_id``, which no projection
    reads and which costs a SHA-1 per event (``uuid5``); the relay needs it.
    """

    def __init__(self, store: StoredEvents, with_event_id: bool = False) -> None:
        self.store = store
        self.with_event_id = with_event_id
        self.transcodings = store.plain_transcodings()
        self._classes: dict[str, type[Any] | None] = {}

    def record(self, notification: StoredEvent) -> Record:
        record = self._fast(notification)
        if record is None:
            name, full = to_record(self.store.to_event(notification))
            if not self.with_event_id:
                full.pop("event_id", None)
            record = name, full
        return record

    def message(self, codec: AvroCodec, notification: Notification) -> Message:
        """The relay's message of the notification: ``to_message(codec, store.to_event(n))``."""
        if not self.with_event_id:
            raise ValueError("a message carries the event id: this decoder was made without it")
        return message_of(codec, self.record(notification))

    def _class(self, topic: str) -> type[Any] | None:
        """The event class of a topic; None when the mapper must decode it (upcast, not a claim event)."""
        if topic not in self._classes:
            cls = resolve_topic(topic)
            known = cls is Claim.Submitted or cls is Claim.Decided or cls in _LIFECYCLE
            self._classes[topic] = cls if known and getattr(cls, "class_version", 1) == 1 else None
        return self._classes[topic]

    def _state(self, notification: StoredEvent) -> dict[str, Any] | None:
        """The event's attributes as the mapper's JSON transcoder would decode them, or None."""
        transcodings = self.transcodings
        if transcodings is None:
            return None
        state = notification.state
        try:
            event_state = orjson.loads(state)
            if type(event_state) is not dict or "class_version" in event_state:
                return None
            decoded = 0
            for name, value in event_state.items():
                if type(value) is dict and len(value) == 2 and "_type_" in value and "_data_" in value:
                    event_state[name] = transcodings[value["_type_"]].decode(value["_data_"])
                    decoded += 1
        except Exception:  # whatever it is, the mapper raises it with the event's identity
            return None
        if state.count(_TYPE_KEY) != decoded:
            return None  # a transcoded value below the top level (or the text "_type_"): the mapper's work
        return event_state

    def _fast(self, notification: StoredEvent) -> Record | None:
        cls = self._class(notification.topic)
        if cls is None or (state := self._state(notification)) is None:
            return None
        convertor = find_id_convertor(cast(Hashable, cls), cast(Hashable, type(notification.originator_id)))
        if not isinstance(claim_id := convertor(notification.originator_id), uuid.UUID):
            return None
        return _record(cls, claim_id, notification.originator_version, state.__getitem__, self.with_event_id)
