"""Notify and send: the insured hears of each step of their claim, in French and Arabic, exactly once.

``Notify`` turns claim events into one Notification per channel the insured can be reached on (ids
derived from event and channel: a redelivered event finds them) and stores the message's texts once
per event; a message about the worker's dossier (the acceptance, a refused piece, the reminder before
the deadline) reads the claim at the event's own version, so a redelivery or a replay says the same.
``Send`` works off one due delivery at a time: the attempt is saved before anything leaves, so a sender
that dies mid-send is seen by the next one (which resumes it: SMS with the same idempotency key, email
with the same Message-ID marked as a possible duplicate).
"""

from __future__ import annotations

import random
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from ipe_claims.application.clock import Clock
from ipe_claims.application.dossier import dossier_of
from ipe_claims.application.ports import (
    Contact,
    Contacts,
    DeliveryQueue,
    Email,
    EmailChannel,
    Filed,
    Message,
    NotificationStore,
    Renderer,
    Sms,
    SmsChannel,
    Texts,
)
from ipe_claims.domain.claim import Claim
from ipe_claims.domain.dates import CASABLANCA
from ipe_claims.domain.dossier import REFUSED
from ipe_claims.domain.errors import DomainError
from ipe_claims.domain.motifs import MOTIFS
from ipe_claims.domain.notification import (
    EMAIL,
    NONE,
    PENDING,
    SMS,
    Notification,
    Outcome,
    RetryPolicy,
    channels_for,
    delivery_id,
)
from ipe_claims.domain.rules import VALABLE

ALL_CHANNELS = (EMAIL, SMS, NONE)
# The kinds that say which pieces the worker still owes.
ABOUT_THE_DOSSIER = ("valid", "dossier_piece_refused", "dossier_reminder")
SAVE_TRIES = 5
Decoded = tuple[str, Mapping[str, Any]]  # a claim event's name and fields, as the relay published them


class ClaimNotFiled(DomainError):
    """A claim event whose claim is not in the store (the event cannot say whom it concerns)."""


class ChannelNotConfigured(DomainError):
    """A delivery handed to a sender that has no such channel."""


class OutcomeNotRecorded(DomainError):
    """Another writer changed a Notification while this sender had it in flight (never expected: the
    sender holds its delivery)."""


class NotificationsKeptChanging(DomainError):
    """Other writers kept saving the same Notifications first: the events are tried again later."""


def kind_of(name: str, event: Mapping[str, Any]) -> str | None:
    """The message a claim event calls for, if any."""
    if name == "ClaimSubmitted":
        return "deposited"
    if name == "ClaimDecided":
        return "valid" if event["situation"] == VALABLE else "rejected"
    if name == "ClaimReturnedToWork":
        return "benefit_ended"
    if name == "ClaimPaymentIssued":
        return "payment_issued"
    if name == "ClaimDocumentRecorded" and event["status"] == REFUSED:
        return "dossier_piece_refused"
    if name == "ClaimDossierReminderDue":
        return "dossier_reminder"
    return None


@dataclass(frozen=True)
class Requested:
    """What ``Notify`` did for one event: ``new`` is False when its message was stored already."""

    event_id: uuid.UUID
    claim_id: uuid.UUID
    kind: str
    channels: list[str]
    new: bool


@dataclass(frozen=True)
class _Wanted:
    event: Mapping[str, Any]
    kind: str
    event_id: uuid.UUID
    claim_id: uuid.UUID


@dataclass(frozen=True)
class Notify:
    store: NotificationStore
    renderer: Renderer
    message_id_domain: str = "ipe.cnss.ma"

    def __call__(
        self, events: Sequence[Decoded], contacts: Contacts, queue: DeliveryQueue
    ) -> list[Requested]:
        """The messages the events call for, their Notifications saved (before the queue's rows, which
        commit with the caller's unit of work) and queued; the whole batch with one read of each kind."""
        wanted = [_Wanted(event, kind, uuid.UUID(str(event["event_id"])), uuid.UUID(str(event["claim_id"])))
                  for name, event in events if (kind := kind_of(name, event)) is not None]  # fmt: skip
        if not wanted:
            return []
        filed = self.store.filed({w.claim_id for w in wanted})
        missing = [w.claim_id for w in wanted if w.claim_id not in filed]
        if missing:
            raise ClaimNotFiled(f"claim {missing[0]} is not in the store")
        reachable = contacts.find_many({claim["immatriculation"] for claim in filed.values()})
        notifications = self._saved(wanted, filed, reachable)
        requests = [(self._message(w, filed[w.claim_id], self._dossier(w)), notifications[w.event_id])
                    for w in wanted]  # fmt: skip
        new = queue.enqueue(requests)
        return [Requested(w.event_id, w.claim_id, w.kind, [n.channel for n in notifications[w.event_id]], first)
                for w, first in zip(wanted, new, strict=True)]  # fmt: skip

    def _saved(
        self, wanted: list[_Wanted], filed: Mapping[uuid.UUID, Filed], reachable: Mapping[str, Contact]
    ) -> dict[uuid.UUID, list[Notification]]:
        """Each event's Notifications: those in the store, else new ones, saved together. A lost race
        (another notifier saved some first) loads the winner's and tries again."""
        ids = {delivery_id(w.event_id, channel) for w in wanted for channel in ALL_CHANNELS}
        for _ in range(SAVE_TRIES):
            existing = self.store.notifications(ids)
            by_event: dict[uuid.UUID, list[Notification]] = {}
            unsaved: list[Notification] = []
            for w in wanted:
                if w.event_id in by_event:  # the same event twice in a batch
                    continue
                found = [existing[key] for channel in ALL_CHANNELS
                         if (key := delivery_id(w.event_id, channel)) in existing]  # fmt: skip
                if not found:
                    found = self._request(w, reachable.get(filed[w.claim_id]["immatriculation"]))
                    unsaved.extend(found)
                by_event[w.event_id] = found
            if not unsaved or self.store.save_once(*unsaved):
                return by_event
        raise NotificationsKeptChanging(f"{len(ids)} notifications kept changing")

    def _request(self, wanted: _Wanted, contact: Contact | None) -> list[Notification]:
        """One Notification per channel the insured can be reached on (not yet saved)."""
        email, mobile = (contact.email, contact.mobile) if contact else (None, None)
        address = {EMAIL: email, SMS: mobile}
        return [Notification.request(wanted.event_id, wanted.claim_id, wanted.kind, channel,
                                     address.get(channel) or "", contact.language if contact else "fr",
                                     self.message_id_domain)
                for channel in channels_for(email, mobile)]  # fmt: skip

    def _dossier(self, wanted: _Wanted) -> dict[str, Any]:
        """What a message about the dossier says of it, read at the event's own version."""
        if wanted.kind not in ABOUT_THE_DOSSIER:
            return {}
        return _pieces(
            wanted.kind, wanted.event, self.store.claim_at(wanted.claim_id, int(wanted.event["version"]))
        )

    def _message(self, wanted: _Wanted, claim: Filed, dossier: dict[str, Any]) -> Message:
        context = _context(wanted.event, claim) | dossier
        return Message(wanted.event_id, wanted.claim_id, wanted.kind, claim["immatriculation"],
                       self.renderer.render(wanted.kind, "fr", context),
                       self.renderer.render(wanted.kind, "ar", context))  # fmt: skip


def _dmy(value: Any) -> str:
    return str(value.strftime("%d/%m/%Y"))


def _context(event: Mapping[str, Any], claim: Filed) -> dict[str, Any]:
    """The event, its dates as the insured writes them, and the claim as filed (later events do not
    repeat whom the claim concerns)."""
    motif = MOTIFS.get(claim["motif_code"])
    dates = {name: _dmy(event[name]) for name in ("return_date", "benefit_end") if name in event}
    return (
        dict(event)
        | dates
        | _payment(event)
        | {
            "immatriculation": claim["immatriculation"],
            "nom": claim["nom"],
            "prenoms": claim["prenoms"],
            "affiliation_number": claim["affiliation_number"],
            "job_loss_date": _dmy(claim["job_loss_date"]),
            "filed_on": _dmy(claim["filed_at"].astimezone(CASABLANCA)),
            "motif_label_fr": motif.label_fr if motif else claim["motif_code"],
            "motif_label_ar": motif.label_ar if motif else claim["motif_code"],
        }
    )


def _pieces(kind: str, event: Mapping[str, Any], claim: Claim) -> dict[str, Any]:
    """The pieces the worker still has to bring (missing or refused; a piece received waits on the agency,
    not on them), the deadline, and for a refusal the piece and the agent's reason on one line."""
    owed = [{"label_fr": piece.label_fr, "label_ar": piece.label_ar, "refused": piece.status == REFUSED}
            for piece in dossier_of(claim).owed]  # fmt: skip
    context: dict[str, Any] = {"pieces": owed, "dossier_deadline": _dmy(claim.dossier_deadline)}
    if kind == "dossier_piece_refused":
        rule = {rule.kind: rule for rule in claim.dossier_rules.documents}[event["kind"]]
        context |= {"piece_label_fr": rule.label_fr, "piece_label_ar": rule.label_ar,
                    "refusal_reason": " ".join(str(event["reason"] or "").split())}  # fmt: skip
    return context


def _payment(event: Mapping[str, Any]) -> dict[str, str]:
    """A payment's month as MM/YYYY and its amount in dirhams with two decimals."""
    if "amount_centimes" not in event or "month" not in event:
        return {}
    year, month = str(event["month"]).split("-")
    centimes = int(event["amount_centimes"])
    return {"payment_month": f"{month}/{year}", "amount": f"{centimes // 100}.{centimes % 100:02d}"}


@dataclass(frozen=True)
class Sending:
    """A due delivery taken by ``Send``: ``attempted`` is False when there was nothing to send after all
    (its row lagged behind the store, or another sender recorded an attempt first)."""

    notification: Notification
    attempted: bool


@dataclass
class Send:
    store: NotificationStore
    renderer: Renderer
    clock: Clock
    policy: RetryPolicy = field(default_factory=RetryPolicy)
    email: EmailChannel | None = None
    sms: SmsChannel | None = None
    jitter: Callable[[], float] = random.random

    @property
    def channels(self) -> list[str]:
        """The channels this sender can use: only their deliveries are taken from the queue."""
        return [name for name, channel in ((EMAIL, self.email), (SMS, self.sms)) if channel is not None]

    def __call__(self, queue: DeliveryQueue) -> Sending | None:
        """Send the next due delivery, if any, and record its outcome (in the caller's unit of work, which
        holds the delivery until it ends): retried later on a transient failure, until the policy gives up."""
        due = queue.lock_next_due(self.channels, self.clock.now())
        if due is None:
            return None
        notification = self.store.notification(due.delivery_id)
        if notification.status != PENDING:  # the row lagged behind the store
            queue.record(notification)
            return Sending(notification, attempted=False)
        if notification.channel not in self.channels:
            raise ChannelNotConfigured(f"no {notification.channel} channel for {notification.id}")
        notification.attempt()
        if not self.store.save_once(notification):
            return Sending(notification, attempted=False)  # another sender recorded an attempt first
        outcome = self._deliver(notification, due.texts)
        notification.conclude(outcome, self.policy, self.jitter(), self.clock.now())
        if not self.store.save_once(notification):  # the attempt stays without an outcome: resumed later
            raise OutcomeNotRecorded(f"notification {notification.id} changed while it was being sent")
        queue.record(notification)
        return Sending(notification, attempted=True)

    def _deliver(self, notification: Notification, texts: Texts) -> Outcome:
        if notification.channel == EMAIL and self.email is not None:
            content = self.renderer.email(texts, notification.language)
            return self.email.send(Email(notification.address, content.subject, content.text, content.html,
                                         notification.message_id, notification.possible_duplicate))  # fmt: skip
        if notification.channel == SMS and self.sms is not None:
            text = self.renderer.sms(texts, notification.language)
            return self.sms.send(Sms(notification.address, text, notification.message_id))
        raise ChannelNotConfigured(f"no {notification.channel} channel for {notification.id}")
