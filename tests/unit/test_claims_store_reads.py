"""The reads ``ClaimsApplication`` offers in place of its internals, on the in-memory store: first events,
pages of the claim log, the log by topic, a Notification, a claim's events, the decoder's transcodings."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

import pytest
from eventsourcing.application import AggregateNotFoundError
from eventsourcing.utils import get_topic

from ipe_claims.adapters.claim_messages import RecordDecoder, to_record
from ipe_claims.application.claims import CLAIM_TOPICS, ClaimsApplication
from ipe_claims.domain.claim import Claim
from ipe_claims.domain.notification import Notification


def filed(app: ClaimsApplication, immatriculation: str) -> Claim:
    claim = Claim.submit(
        uuid.uuid4(), affiliation_number="1234567", immatriculation=immatriculation, cin="BE1", nom="ALAMI",
        prenoms="Fatima", job_loss_date=datetime(2026, 2, 27).date(), motif_code="licenciement_economique",
        attestation=True, filed_at=datetime(2026, 3, 12, 9, tzinfo=UTC), submitted_by="demo", channel="http",
    )  # fmt: skip
    app.save(claim)
    return claim


def requested(app: ClaimsApplication, claim: Claim) -> Notification:
    notification = Notification.request(
        uuid.uuid4(), claim.id, "deposited", "email", "a@b.ma", "fr", "ipe.test"
    )
    app.save(notification)
    return notification


def test_first_events_are_each_claims_submission_on_any_store(app: ClaimsApplication) -> None:
    claims = [filed(app, f"10000000{n}") for n in range(3)]
    first = app.first_events([c.id for c in claims] + [uuid.uuid4()])
    assert sorted((e.originator_id, e.originator_version) for e in first) == sorted((c.id, 1) for c in claims)
    assert {e.topic for e in first} == {get_topic(Claim.Submitted)}
    assert app.first_events([]) == []


def test_pages_of_the_claim_log_leave_other_events_out_and_stop_at_up_to(app: ClaimsApplication) -> None:
    claims = [filed(app, f"20000000{n}") for n in range(5)]
    requested(app, claims[0])  # a Notification's event between claim events: not in the claim log
    later = filed(app, "300000000")
    head = app.claim_notifications(0, 100)[-1].id
    pages = list(app.claim_notification_pages(0, head - 1, 2))
    assert [len(page) for page in pages] == [2, 2, 1]
    assert [n.originator_id for page in pages for n in page] == [c.id for c in claims]
    assert list(app.claim_notification_pages(head - 1, head, 2)) == [
        [app.claim_notifications(head - 1, 1)[0]]
    ]
    assert [n.originator_id for n in app.claim_notifications(0, 100)][-1] == later.id


def test_the_log_by_topic_reads_more_than_ten_at_a_time(app: ClaimsApplication) -> None:
    claim = filed(app, "400000000")
    notifications = [requested(app, claim) for _ in range(12)]
    topics = [get_topic(Notification.Requested)]
    assert [n.originator_id for n in app.notifications(0, 100, topics)] == [n.id for n in notifications]
    assert {n.topic for n in app.notifications(0, 100, CLAIM_TOPICS)} == {get_topic(Claim.Submitted)}


def test_a_delivery_is_a_notification_or_an_error(app: ClaimsApplication) -> None:
    claim = filed(app, "500000000")
    notification = requested(app, claim)
    assert app.get_delivery(notification.id).id == notification.id
    with pytest.raises(TypeError):
        app.get_delivery(claim.id)
    with pytest.raises(AggregateNotFoundError):
        app.get_delivery(uuid.uuid4())


def test_claim_events_and_the_decoder_agree_with_the_domain_events(app: ClaimsApplication) -> None:
    claim = filed(app, "600000000")
    (event,) = app.claim_events(claim.id)
    assert isinstance(event, Claim.Submitted)
    assert app.plain_transcodings() is not None  # the in-memory store keeps plain JSON: the fast path
    (stored,) = app.first_events([claim.id])
    assert RecordDecoder(app, with_event_id=True).record(stored) == to_record(event)
