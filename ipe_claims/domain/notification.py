"""A message to the insured on one channel, as an event-sourced aggregate (one per claim event × channel).

Every attempt and outcome is an event, so a replay rebuilds delivery status exactly, and an attempt
that never got its outcome (the process died mid-send) is visible: the next attempt knows it resumes
and, for email, that the worker may receive the message twice.
"""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

from eventsourcing.domain import Aggregate

from ipe_claims.domain.errors import DomainError

EMAIL, SMS, NONE = "email", "sms", "none"
PENDING, SENT, FAILED, UNDELIVERABLE = "pending", "sent", "failed", "undeliverable"
KINDS = (
    "deposited", "valid", "rejected", "benefit_ended", "payment_issued", "dossier_piece_refused", "dossier_reminder",
)  # fmt: skip
NO_CONTACT = "no_contact"


class NotificationClosed(DomainError):
    """The message is sent, failed for good or undeliverable: nothing more may be attempted."""


def delivery_id(event_id: uuid.UUID, channel: str) -> uuid.UUID:
    """Stable per (claim event, channel): a redelivered claim event finds the same notification."""
    return uuid.uuid5(event_id, f"notification:{channel}")


def message_id_for(event_id: uuid.UUID, channel: str, domain: str) -> str:
    """The email Message-ID (RFC 5322) or the SMS idempotency key; both derive from (event, channel)."""
    key = delivery_id(event_id, channel)
    return f"<{key}@{domain}>" if channel == EMAIL else str(key)


_ADDRESS = re.compile(r"[^\s<>@\"']+@[^\s<>@\"']+|\+?\d(?:[ .-]?\d){7,}")


def scrub(reason: str) -> str:
    """A channel's error text without the addresses or numbers it may echo (the log and API show it)."""
    return _ADDRESS.sub("<address>", reason)[:300]


def channels_for(email: str | None, mobile: str | None) -> list[str]:
    """Every channel the insured can be reached on; none at all is recorded, not an error."""
    found = [channel for channel, address in ((EMAIL, email), (SMS, mobile)) if address]
    return found or [NONE]


@dataclass(frozen=True)
class Delivered:
    provider_id: str = ""


@dataclass(frozen=True)
class Failure:
    reason: str
    permanent: bool  # a bad address or a refusal that a retry cannot fix


Outcome = Delivered | Failure


@dataclass(frozen=True)
class RetryPolicy:
    base_seconds: float = 30.0
    cap_seconds: float = 3600.0
    max_attempts: int = 12

    def delay(self, attempt: int, jitter: float) -> float:
        """Exponential backoff with equal jitter (``jitter`` in [0, 1]): half fixed, half spread, so
        messages that failed together do not retry together."""
        ceiling = min(self.cap_seconds, self.base_seconds * 2 ** max(0, attempt - 1))
        return float(ceiling / 2 + ceiling / 2 * min(1.0, max(0.0, jitter)))


class Notification(Aggregate):
    class Requested(Aggregate.Created):
        event_id: uuid.UUID
        claim_id: uuid.UUID
        kind: str
        channel: str
        address: str
        language: str
        message_id: str

    class Attempted(Aggregate.Event):
        attempt: int
        resumed: bool  # the previous attempt never got an outcome
        possible_duplicate: bool  # resumed on a channel without idempotency (email)

        def apply(self, aggregate: Aggregate) -> None:
            assert isinstance(aggregate, Notification)
            aggregate.attempts = self.attempt
            aggregate.in_flight = True
            aggregate.possible_duplicates += int(self.possible_duplicate)
            aggregate.resumed, aggregate.possible_duplicate = self.resumed, self.possible_duplicate
            aggregate.last_attempt_at = self.timestamp

    class Sent(Aggregate.Event):
        provider_id: str

        def apply(self, aggregate: Aggregate) -> None:
            assert isinstance(aggregate, Notification)
            aggregate.status, aggregate.in_flight, aggregate.reason = SENT, False, None
            aggregate.sent_at, aggregate.next_attempt_at = self.timestamp, None

    class Failed(Aggregate.Event):
        reason: str
        final: bool
        retry_at: datetime | None

        def apply(self, aggregate: Aggregate) -> None:
            assert isinstance(aggregate, Notification)
            aggregate.in_flight, aggregate.reason = False, self.reason
            aggregate.status = FAILED if self.final else PENDING
            aggregate.next_attempt_at = self.retry_at

    class Undeliverable(Aggregate.Event):
        reason: str

        def apply(self, aggregate: Aggregate) -> None:
            assert isinstance(aggregate, Notification)
            aggregate.status, aggregate.reason, aggregate.next_attempt_at = UNDELIVERABLE, self.reason, None

    def __init__(
        self,
        *,
        event_id: uuid.UUID,
        claim_id: uuid.UUID,
        kind: str,
        channel: str,
        address: str,
        language: str,
        message_id: str,
    ) -> None:
        self.event_id = event_id
        self.claim_id = claim_id
        self.kind = kind
        self.channel = channel
        self.address = address
        self.language = language
        self.message_id = message_id
        self.status = PENDING
        self.attempts = 0
        self.in_flight = False
        self.possible_duplicates = 0
        self.resumed = False  # the attempt in flight continues one that never got an outcome
        self.possible_duplicate = False  # … and its channel cannot tell: the worker may get it twice
        self.reason: str | None = None
        self.last_attempt_at: datetime | None = None
        self.sent_at: datetime | None = None
        self.next_attempt_at: datetime | None = self.created_on

    @classmethod
    def request(
        cls, event_id: uuid.UUID, claim_id: uuid.UUID, kind: str, channel: str, address: str,
        language: str, message_id_domain: str,
    ) -> Notification:  # fmt: skip
        if kind not in KINDS:
            raise DomainError(f"unknown notification kind {kind!r}")
        notification = cls._create(
            cls.Requested, id=delivery_id(event_id, channel), event_id=event_id, claim_id=claim_id,
            kind=kind, channel=channel, address=address, language=language,
            message_id=message_id_for(event_id, channel, message_id_domain),
        )  # fmt: skip
        if channel == NONE:
            notification.trigger_event(cls.Undeliverable, reason=NO_CONTACT)
        return notification

    def attempt(self) -> None:
        """Record the intent before anything leaves: a crash after this line is seen by the next try."""
        if self.status != PENDING:
            raise NotificationClosed(f"notification {self.id} is {self.status}")
        resumed = self.in_flight
        self.trigger_event(
            self.Attempted, attempt=self.attempts + 1, resumed=resumed,
            possible_duplicate=resumed and self.channel == EMAIL,
        )  # fmt: skip

    def conclude(self, outcome: Outcome, policy: RetryPolicy, jitter: float, now: datetime) -> None:
        """Record what the channel answered; a transient failure is retried until ``max_attempts``."""
        if not self.in_flight:
            raise NotificationClosed(f"notification {self.id} has no attempt in flight")
        if isinstance(outcome, Delivered):
            self.trigger_event(self.Sent, provider_id=outcome.provider_id)
            return
        final = outcome.permanent or self.attempts >= policy.max_attempts
        reason = (
            outcome.reason
            if outcome.permanent or not final
            else f"gave up after {self.attempts} attempts: {outcome.reason}"
        )
        retry_at = None if final else now + timedelta(seconds=policy.delay(self.attempts, jitter))
        self.trigger_event(self.Failed, reason=scrub(reason), final=final, retry_at=retry_at)
