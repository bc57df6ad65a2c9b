"""The Notification aggregate: one message on one channel, its attempts and outcomes, and the retry policy."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest

from ipe_claims.domain.notification import (
    Delivered,
    Failure,
    Notification,
    NotificationClosed,
    RetryPolicy,
    channels_for,
    delivery_id,
    scrub,
)  # fmt: skip

NOW = datetime(2026, 3, 1, 10, 0, tzinfo=UTC)
POLICY = RetryPolicy(base_seconds=10, cap_seconds=100, max_attempts=3)


def email(event_id: uuid.UUID | None = None) -> Notification:
    return Notification.request(event_id or uuid.uuid4(), uuid.uuid4(), "valid", "email", "w@example.ma",
                                "ar", "ipe.test")  # fmt: skip


def test_ids_and_message_ids_derive_from_event_and_channel() -> None:
    event_id = uuid.uuid4()
    first, again = email(event_id), email(event_id)
    assert first.id == again.id == delivery_id(event_id, "email") != delivery_id(event_id, "sms")
    assert first.message_id == f"<{first.id}@ipe.test>"
    sms = Notification.request(event_id, uuid.uuid4(), "valid", "sms", "+212612345678", "fr", "ipe.test")
    assert sms.message_id == str(sms.id)  # the gateway's idempotency key


def test_channels_follow_the_contact_and_none_is_undeliverable() -> None:
    assert channels_for("a@b.ma", "+212612345678") == ["email", "sms"]
    assert channels_for(None, "+212612345678") == ["sms"]
    assert channels_for(None, None) == ["none"]
    nobody = Notification.request(uuid.uuid4(), uuid.uuid4(), "deposited", "none", "", "fr", "ipe.test")
    assert (nobody.status, nobody.reason, nobody.next_attempt_at) == ("undeliverable", "no_contact", None)
    with pytest.raises(NotificationClosed):
        nobody.attempt()


def test_a_sent_message_is_closed() -> None:
    n = email()
    n.attempt()
    n.conclude(Delivered("id-1"), POLICY, 0.5, NOW)
    assert (n.status, n.attempts, n.possible_duplicates, n.next_attempt_at) == ("sent", 1, 0, None)
    with pytest.raises(NotificationClosed):
        n.attempt()


def test_a_transient_failure_is_retried_later_until_the_policy_gives_up() -> None:
    n = email()
    n.attempt()
    n.conclude(Failure("smtp unreachable", permanent=False), POLICY, 0.0, NOW)
    assert n.status == "pending" and n.next_attempt_at == NOW + timedelta(seconds=5)
    for _ in range(2):
        n.attempt()
        n.conclude(Failure("smtp unreachable", permanent=False), POLICY, 1.0, NOW)
    assert n.status == "failed" and n.attempts == 3 and n.reason is not None
    assert n.reason.startswith("gave up after 3 attempts") and n.next_attempt_at is None


def test_a_permanent_failure_is_final_at_once_and_keeps_its_reason() -> None:
    n = email()
    n.attempt()
    n.conclude(Failure("recipient refused: 550 5.1.1 <w@example.ma>", permanent=True), POLICY, 0.5, NOW)
    assert (n.status, n.attempts) == ("failed", 1)
    assert n.reason == "recipient refused: 550 5.1.1 <<address>>"  # the address is not repeated
    with pytest.raises(NotificationClosed):
        n.attempt()


def test_an_attempt_without_outcome_makes_the_next_email_a_marked_possible_duplicate() -> None:
    n = email()
    n.attempt()  # … and the process died before the outcome was recorded
    n.attempt()
    assert n.resumed and n.possible_duplicate and n.possible_duplicates == 1 and n.attempts == 2
    sms = Notification.request(uuid.uuid4(), uuid.uuid4(), "valid", "sms", "+212612345678", "fr", "ipe.test")
    sms.attempt()
    sms.attempt()
    assert sms.resumed and not sms.possible_duplicate  # the gateway's idempotency key covers it


def test_an_outcome_needs_an_attempt() -> None:
    with pytest.raises(NotificationClosed):
        email().conclude(Delivered(), POLICY, 0.5, NOW)


def test_backoff_doubles_up_to_the_cap_with_equal_jitter() -> None:
    policy = RetryPolicy(base_seconds=2, cap_seconds=30, max_attempts=10)
    assert [policy.delay(k, 1.0) for k in (1, 2, 3, 4, 5, 6)] == [2, 4, 8, 16, 30, 30]
    assert [policy.delay(k, 0.0) for k in (1, 2, 3)] == [1, 2, 4]
    assert 2 < policy.delay(3, 0.3) < 8


def test_scrub_hides_addresses_and_numbers_but_keeps_status_codes() -> None:
    assert scrub("421 4.3.2 busy for a@b.ma") == "421 4.3.2 busy for <address>"
    assert scrub('gateway 400: {"to": "+212612345678"}') == 'gateway 400: {"to": "<address>"}'
