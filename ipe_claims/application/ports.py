"""The application's ports: what its services need from the world, as ``typing.Protocol``s.

Adapters (``ipe_claims.adapters``) implement them against Postgres, SMTP and HTTP; unit tests against
the library's in-memory store and fakes. The value objects that cross a port are defined beside it.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from ipe_claims.domain.claim import Claim
from ipe_claims.domain.notification import Notification, Outcome

# ---------------------------------------------------------------------------------------------------
# notifying: messages to the insured (application/notifying.py) and the return to work that ends a
# benefit (application/returning.py)
# ---------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Contact:
    """How to reach an insured (the ``contacts`` table, loaded from the fund's file)."""

    immatriculation: str
    email: str | None
    mobile: str | None  # E.164, +212…
    language: str  # the language written first: fr or ar


@dataclass(frozen=True)
class Rendered:
    subject: str
    body: str


@dataclass(frozen=True)
class Texts:
    """What the notifier stored for one claim event: subject and body in both languages."""

    subject_fr: str
    body_fr: str
    subject_ar: str
    body_ar: str
    claim_id: str

    def of(self, language: str) -> Rendered:
        return (
            Rendered(self.subject_ar, self.body_ar)
            if language == "ar"
            else Rendered(self.subject_fr, self.body_fr)
        )


@dataclass(frozen=True)
class EmailContent:
    subject: str
    text: str
    html: str


@dataclass(frozen=True)
class Email:
    to: str
    subject: str
    text: str
    html: str
    message_id: str
    possible_duplicate: bool = False


@dataclass(frozen=True)
class Sms:
    to: str
    text: str
    idempotency_key: str


@dataclass(frozen=True)
class Message:
    """A claim event's message in both languages, stored once per event for all its channels."""

    event_id: uuid.UUID
    claim_id: uuid.UUID
    kind: str
    immatriculation: str
    fr: Rendered
    ar: Rendered


@dataclass(frozen=True)
class Due:
    """A message due on one channel, held by this sender until its outcome is recorded."""

    delivery_id: uuid.UUID
    texts: Texts


Filed = Mapping[str, Any]  # a claim's ClaimSubmitted fields: whom it concerns and what was filed


class NotificationStore(Protocol):
    """The claims store as notifying sees it: the facts filed with each claim, and the Notifications."""

    def filed(self, claim_ids: Collection[uuid.UUID]) -> Mapping[uuid.UUID, Filed]:
        """The ClaimSubmitted fields of each claim among ``claim_ids`` that exists."""
        ...

    def notifications(self, ids: Collection[uuid.UUID]) -> Mapping[uuid.UUID, Notification]:
        """The Notifications among ``ids`` that exist."""
        ...

    def notification(self, notification_id: uuid.UUID) -> Notification: ...

    def save_once(self, *notifications: Notification) -> bool:
        """Save together; False (nothing saved) when another writer changed one of them first."""
        ...


class Contacts(Protocol):
    def find_many(self, immatriculations: Collection[str]) -> Mapping[str, Contact]: ...


class Renderer(Protocol):
    """Writes a message's texts from its templates, and lays them out for each channel."""

    def render(self, kind: str, language: str, context: dict[str, Any]) -> Rendered: ...

    def email(self, texts: Texts, language: str) -> EmailContent: ...

    def sms(self, texts: Texts, language: str) -> str: ...


class EmailChannel(Protocol):
    def send(self, email: Email) -> Outcome: ...


class SmsChannel(Protocol):
    def send(self, sms: Sms) -> Outcome: ...


class DeliveryQueue(Protocol):
    """The messages and their deliveries: the senders' queue and the ``deliveries`` read model."""

    def enqueue(self, requests: Sequence[tuple[Message, Sequence[Notification]]]) -> list[bool]:
        """Each message (once per event) and its Notifications' state; True where the message is new."""
        ...

    def lock_next_due(self, channels: Collection[str], now: datetime) -> Due | None:
        """The next pending delivery due at ``now`` on one of ``channels``, held until the caller's
        unit of work ends (other senders skip it)."""
        ...

    def record(self, *notifications: Notification) -> None:
        """Each Notification's current state (an older version never overwrites a newer one)."""
        ...


class ClaimSteps(Protocol):
    """The claims store as a step on one claim uses it."""

    def advance(self, claim_id: uuid.UUID, step: Callable[[Claim], None]) -> Claim:
        """Load the claim, let ``step`` record what comes next, save once; a lost race returns the
        claim as the winner left it."""
        ...


# ------------------------------------------------------------------------------- end of notifying --
