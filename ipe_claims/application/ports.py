"""What the application services need from the world, as ``typing.Protocol`` ports: adapters
(``ipe_claims/adapters``, the processes' own) implement them; unit tests pass in-memory fakes.

One section per use case; a port shared by two is declared in the first and imported by name.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any, Protocol

from ipe_claims.application.clock import Clock
from ipe_claims.application.intake import Declared, Refusal
from ipe_claims.domain.claim import Claim, InsuredRecord
from ipe_claims.domain.contributions import MonthlyDeclaration
from ipe_claims.domain.notification import Notification, Outcome

# ---------------------------------------------------------------------------------------------------------
# filing: a submission becomes a claim (``filing.py``)
# ---------------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Submitter:
    """Who files, as the accounts say now: the affiliations they hold are those they may file for."""

    username: str
    role: str
    affiliations: frozenset[str]


class ClaimsStore(Protocol):
    """The event store of claims and insured records (``ClaimsApplication``)."""

    def get_many(self, ids: Collection[uuid.UUID]) -> Mapping[uuid.UUID, Any]:
        """The aggregates among ``ids`` that exist (claims, and insured records by ``InsuredRecord.id_for``)."""
        ...

    def first_version(self, claim_id: uuid.UUID) -> Claim:
        """The claim as it was submitted (version 1)."""
        ...

    def save_once(self, *aggregates: Claim | InsuredRecord) -> bool:
        """Save in one transaction; False when another writer changed one of them first."""
        ...


class DeclarationsReader(Protocol):
    """The employers' declarations of their insured."""

    def declared(self, pairs: Sequence[tuple[str, str]]) -> list[Declared | None]:
        """For each (immatriculation, affiliation_number), the insured as that affiliation declared them;
        None when it never declared them."""
        ...


class Accounts(Protocol):
    """Who stands behind a caller (a bearer token, a portal's topic), read again at each filing."""

    def submitters(self, callers: Collection[str]) -> Mapping[str, Submitter | Refusal]:
        """Each caller's submitter, or why they may not file (an expired token, a role that may not)."""
        ...


# ---------------------------------------------------------------------------------------------------------
# decide: a submitted claim is settled by the rules (``deciding.py``)
# ---------------------------------------------------------------------------------------------------------


class ClaimsToDecide(Protocol):
    """The claims' event store (``ClaimsApplication``, on Postgres or in memory)."""

    def get_many(self, ids: Collection[uuid.UUID]) -> Mapping[uuid.UUID, Any]:
        """The aggregates among ``ids`` that exist, by id (one query for a whole poll)."""
        ...

    def save(self, *aggregates: Claim | InsuredRecord) -> object:
        """Their new events in one transaction (a claim with its insured's record); raises the store's IntegrityError when another writer
        appended to one of them first (the caller's retry finds the winner's events)."""
        ...


class ContributionHistories(Protocol):
    """The contribution history the rules read (``adapters.declarations.DeclarationsOnConnection``)."""

    def histories(self, wanted: Sequence[tuple[str, date]]) -> list[list[MonthlyDeclaration]]:
        """For each (immatriculation, job-loss date), in order: every affiliation's declarations of the
        insured for the 36 months before the month of the loss."""
        ...


# ---------------------------------------------------------------------------------------------------------
# dossier: an agent records the pieces of a claim's dossier (``dossier.py``); claims store: ``ClaimSteps``
# ---------------------------------------------------------------------------------------------------------


class ScanStore(Protocol):
    """Where the bytes of an uploaded scan go (``adapters.blobs``: a folder or an S3 bucket), by content."""

    def put(self, data: bytes, media_type: str) -> str:
        """Store ``data`` (again: a no-op) and return its key, the lowercase hex of its SHA-256."""
        ...


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
    """The claims store as notifying sees it: the facts filed with each claim, the claim at an event's
    version, and the Notifications."""

    def filed(self, claim_ids: Collection[uuid.UUID]) -> Mapping[uuid.UUID, Filed]:
        """The ClaimSubmitted fields of each claim among ``claim_ids`` that exists."""
        ...

    def claim_at(self, claim_id: uuid.UUID, version: int) -> Claim:
        """The claim as it stood after its event of ``version``: what a message about that event says
        of the claim (its dossier) is the same on every redelivery and replay, whatever came later."""
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
        """Load the claim, let ``step`` record what comes next, save once; a lost race lets ``step`` look
        again at the claim as the winner left it (raises a CodedError ``claim_changed`` when every try lost)."""
        ...


# ------------------------------------------------------------------------------- end of notifying --


__all__ = [
    "Accounts",
    "ClaimSteps",
    "ClaimsStore",
    "ClaimsToDecide",
    "Clock",
    "Contact",
    "Contacts",
    "ContributionHistories",
    "DeclarationsReader",
    "DeliveryQueue",
    "Due",
    "Email",
    "EmailChannel",
    "EmailContent",
    "Message",
    "NotificationStore",
    "Rendered",
    "Renderer",
    "ScanStore",
    "Sms",
    "SmsChannel",
    "Submitter",
    "Texts",
]
