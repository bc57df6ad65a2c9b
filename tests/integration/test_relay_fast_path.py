"""The relay's fast decoding path (claim_messages.RecordDecoder with event ids) publishes exactly the
messages the mapper path does: same key, same Avro bytes, same headers, for every claim event type."""

from __future__ import annotations

import random
import uuid
from datetime import UTC, date, datetime

import pytest
from eventsourcing.persistence import Notification as StoredNotification
from eventsourcing.utils import get_topic

from ipe_claims.adapters.avro import AvroCodec
from ipe_claims.adapters.claim_messages import RecordDecoder, to_message
from ipe_claims.application.claims import ClaimsApplication
from ipe_claims.audit.store_source import claim_notifications
from ipe_claims.domain.claim import Claim
from ipe_claims.domain.rules import REJETE, VALABLE
from tests.integration.test_replay_fold import along_a_path, own_store

pytestmark = pytest.mark.integration
__all__ = ["own_store"]  # the fixture: an event store of its own, out of the shared relay's way


def test_the_fast_path_gives_the_mappers_message_for_every_claim_event(
    own_store: ClaimsApplication, codec: AvroCodec
) -> None:
    rng = random.Random(6)
    for n in range(36):
        own_store.save(along_a_path(rng, n))
    head = own_store.recorder.max_notification_id() or 0
    decoder = RecordDecoder(own_store, with_event_id=True)
    seen: set[str] = set()
    for page in claim_notifications(own_store, 0, head):
        for notification in page:
            expected = to_message(codec, own_store.to_event(notification))
            assert decoder._fast(notification) is not None, "these states are the fast path's"
            assert decoder.message(codec, notification) == expected
            name, record = codec.decode(expected.value)
            seen.add(name if name != "ClaimDecided" else f"{name} {record['situation']}")
    assert seen == {
        "ClaimSubmitted", f"ClaimDecided {VALABLE}", f"ClaimDecided {REJETE}", "ClaimAwaitingDeclaration",
        "ClaimDeclarationWaitExpired", "ClaimReturnedToWork", "ClaimReviewRuled", "ClaimForceMajeureGranted",
        "ClaimDocumentRecorded", "ClaimDossierExpired", "ClaimDossierReminderDue",
    }  # fmt: skip


def test_a_state_the_fast_path_cannot_read_gives_the_mappers_message(
    own_store: ClaimsApplication, codec: AvroCodec
) -> None:
    """A transcoded value below the top level (a date inside the decision) goes through the mapper."""
    claim = along_a_path(random.Random(2), 2)
    decided = next(e for e in claim.collect_events() if isinstance(e, Claim.Decided))
    decision = decided.decision | {"seen_on": date(2025, 2, 3)}  # not in the schema: Avro leaves it out
    state = own_store.mapper.transcoder.encode(
        {"timestamp": datetime(2025, 2, 3, 23, 30, tzinfo=UTC), "decision": decision, "decided_by": "rules"}
    )
    notification = StoredNotification(
        id=1, originator_id=claim.id, originator_version=2, topic=get_topic(Claim.Decided), state=state
    )
    decoder = RecordDecoder(own_store, with_event_id=True)
    assert decoder._fast(notification) is None
    message = decoder.message(codec, notification)
    assert message == to_message(codec, own_store.to_event(notification))
    assert dict(message.headers)["event-id"] == str(uuid.uuid5(claim.id, "2")).encode()
