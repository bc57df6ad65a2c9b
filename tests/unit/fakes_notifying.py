"""In-memory fakes of the notifying ports (ipe_claims/application/ports.py): the delivery queue, the
contacts, and a channel that answers what it is told to."""

from __future__ import annotations

import uuid
from collections.abc import Collection, Sequence
from dataclasses import dataclass, field
from datetime import datetime

from ipe_claims.application.ports import Contact, Due, Email, Message, Sms, Texts
from ipe_claims.domain.notification import PENDING, Delivered, Notification, Outcome


@dataclass(frozen=True)
class Row:
    """What the ``deliveries`` row keeps of a Notification."""

    event_id: uuid.UUID
    channel: str
    status: str
    attempts: int
    reason: str | None
    next_attempt_at: datetime | None
    version: int


@dataclass
class FakeQueue:
    messages: dict[uuid.UUID, Message] = field(default_factory=dict)
    rows: dict[uuid.UUID, Row] = field(default_factory=dict)

    def enqueue(self, requests: Sequence[tuple[Message, Sequence[Notification]]]) -> list[bool]:
        new = []
        for message, notifications in requests:
            new.append(message.event_id not in self.messages)
            self.messages.setdefault(message.event_id, message)
            self.record(*notifications)
        return new

    def lock_next_due(self, channels: Collection[str], now: datetime) -> Due | None:
        due = sorted(
            (row.next_attempt_at, key)
            for key, row in self.rows.items()
            if row.status == PENDING and row.channel in channels
            and row.next_attempt_at is not None and row.next_attempt_at <= now
        )  # fmt: skip
        if not due:
            return None
        key = due[0][1]
        m = self.messages[self.rows[key].event_id]
        return Due(key, Texts(m.fr.subject, m.fr.body, m.ar.subject, m.ar.body, str(m.claim_id)))

    def record(self, *notifications: Notification) -> None:
        for n in notifications:
            if n.id not in self.rows or self.rows[n.id].version < n.version:
                self.rows[n.id] = Row(n.event_id, n.channel, n.status, n.attempts, n.reason,
                                      n.next_attempt_at, n.version)  # fmt: skip


@dataclass
class FakeContacts:
    known: dict[str, Contact] = field(default_factory=dict)

    def add(self, immatriculation: str, email: str | None, mobile: str | None, language: str = "fr") -> None:
        self.known[immatriculation] = Contact(immatriculation, email, mobile, language)

    def find_many(self, immatriculations: Collection[str]) -> dict[str, Contact]:
        return {key: self.known[key] for key in immatriculations if key in self.known}


@dataclass
class FakeChannel:
    """Answers each message with the next of ``answers`` (delivered once they run out) and keeps it."""

    answers: list[Outcome] = field(default_factory=list)
    sent: list[Email | Sms] = field(default_factory=list)

    def send(self, message: Email | Sms) -> Outcome:
        self.sent.append(message)
        return self.answers.pop(0) if self.answers else Delivered(f"provider-{len(self.sent)}")
