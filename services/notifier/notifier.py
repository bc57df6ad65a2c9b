"""The notifier: for each claim event that concerns the insured, the message (FR + AR) and one
Notification per channel the insured can be reached on, exactly once.

The texts go into ``notifications`` (keyed by the event id) in the consumer's transaction, with its
position. The Notification aggregates have ids derived from (event, channel) and are saved to the event
store first, through its own connection: a crash before the consumer commits redelivers the event,
which finds them and only writes the rows again. Sending is the sender's job (sender.py).
"""

from __future__ import annotations

import functools
import uuid
from typing import Any

import psycopg
import structlog
from kafka.consumer.fetcher import ConsumerRecord

from ipe_claims.adapters import contacts, delivery_log
from ipe_claims.adapters.avro import AvroCodec, AvroDecodeError
from ipe_claims.adapters.claim_messages import RecordDecoder
from ipe_claims.adapters.contacts import Contact
from ipe_claims.adapters.kafka import TrackedConsumer
from ipe_claims.application.claims import ClaimsApplication
from ipe_claims.domain.dates import CASABLANCA
from ipe_claims.domain.motifs import MOTIFS
from ipe_claims.domain.notification import EMAIL, NONE, SMS, Notification, channels_for, delivery_id
from ipe_claims.domain.rules import VALABLE
from ipe_claims.settings import CLAIM_EVENTS_TOPIC, Settings
from services.notifier.messages import MessageRenderer

log = structlog.get_logger()
CONSUMER_NAME = "ipe-notifier"
ALL_CHANNELS = (EMAIL, SMS, NONE)
Wanted = tuple[dict[str, Any], str, uuid.UUID, uuid.UUID]  # event, kind, event id, claim id
Filed = dict[str, Any]  # a claim's ClaimSubmitted record: at least the FILED fields
FILED = ("immatriculation", "nom", "prenoms", "affiliation_number", "job_loss_date", "filed_at", "motif_code")


def _dmy(value: Any) -> str:
    return value.strftime("%d/%m/%Y")


def kind_of(name: str, event: dict[str, Any]) -> str | None:
    """The message a claim event calls for, if any."""
    if name == "ClaimSubmitted":
        return "deposited"
    if name == "ClaimDecided":
        return "valid" if event["situation"] == VALABLE else "rejected"
    if name == "ClaimReturnedToWork":
        return "benefit_ended"
    return None


class Notifier:
    def __init__(
        self, app: ClaimsApplication, codec: AvroCodec, renderer: MessageRenderer,
        message_id_domain: str = "ipe.cnss.ma",
    ) -> None:  # fmt: skip
        self.app = app
        self.codec = codec
        self.renderer = renderer
        self.message_id_domain = message_id_domain

    def consumer(self, settings: Settings, name: str = CONSUMER_NAME) -> TrackedConsumer:
        return TrackedConsumer(
            settings, name, [CLAIM_EVENTS_TOPIC], self.handle_batch, poison=(AvroDecodeError,)
        )

    def handle_batch(self, conn: psycopg.Connection[Any], records: list[ConsumerRecord]) -> None:
        self._notify(conn, self._wanted(records))

    def _wanted(self, records: list[ConsumerRecord]) -> list[Wanted]:
        """The events that call for a message: (event, kind, event id, claim id)."""
        wanted = []
        for record in records:
            name, event = self.codec.decode(record.value)
            kind = kind_of(name, event)
            if kind is not None:
                wanted.append(
                    (event, kind, uuid.UUID(str(event["event_id"])), uuid.UUID(str(event["claim_id"])))
                )
        return wanted

    def _notify(self, conn: psycopg.Connection[Any], wanted: list[Wanted]) -> None:
        """Write each event's message and its Notifications; the claims, contacts and Notifications of
        the whole poll are read with one query each and the new Notifications saved with one ``save``
        (to the event store, before the caller commits the rows and positions). A conflict raises
        IntegrityError: the caller redoes the work, which then finds the winner's Notifications."""
        if not wanted:
            return
        claims = self._filed({claim_id for *_, claim_id in wanted})
        reachable = contacts.find_many(conn, {claim["immatriculation"] for claim in claims.values()})
        existing = self.app.get_many({delivery_id(event_id, channel) for _, _, event_id, _ in wanted
                                      for channel in ALL_CHANNELS})  # fmt: skip
        unsaved: list[Notification] = []
        written = []
        with conn.pipeline():  # the rows go out together; their results are read once the pipeline ends
            for event, kind, event_id, claim_id in wanted:
                claim = claims[claim_id]
                found = [existing[key] for channel in ALL_CHANNELS
                         if (key := delivery_id(event_id, channel)) in existing]  # fmt: skip
                notifications = found or self._request(
                    event_id, claim_id, kind, reachable.get(claim["immatriculation"])
                )
                if not found:
                    unsaved.extend(notifications)
                    existing.update((n.id, n) for n in notifications)  # the same event again in this poll
                written.append(
                    (event, kind, notifications, self._write(conn, event, kind, claim, notifications))
                )
        self.app.save(*unsaved)
        for event, kind, notifications, cursor in written:
            log.info("notification.requested" if cursor.rowcount else "notification.duplicate_ignored",
                     claim_id=str(event["claim_id"]), event_id=str(event["event_id"]), kind=kind,
                     channels=[n.channel for n in notifications])  # fmt: skip

    def _filed(self, claim_ids: set[uuid.UUID]) -> dict[uuid.UUID, Filed]:
        """Whom each claim concerns and what was filed, from its ClaimSubmitted event (the claim's
        first: later events never change these facts), decoded by the relay's fast decoder, instead of
        every event of each claim folded into its aggregate (a decision's outcomes rebuilt only to be
        ignored). A claim not in the store is left out."""
        filed: dict[uuid.UUID, Filed] = {}
        for stored in self.app.first_events(claim_ids):
            name, record = self.decoder.record(stored)
            if name == "ClaimSubmitted":
                filed[uuid.UUID(str(stored.originator_id))] = record
        return filed

    @functools.cached_property
    def decoder(self) -> RecordDecoder:
        return RecordDecoder(self.app.mapper)

    def _request(
        self, event_id: uuid.UUID, claim_id: uuid.UUID, kind: str, contact: Contact | None
    ) -> list[Notification]:
        """One Notification per channel the insured can be reached on (not yet saved)."""
        email, mobile = (contact.email, contact.mobile) if contact else (None, None)
        address = {EMAIL: email, SMS: mobile}
        return [Notification.request(event_id, claim_id, kind, channel, address.get(channel) or "",
                                     contact.language if contact else "fr", self.message_id_domain)
                for channel in channels_for(email, mobile)]  # fmt: skip

    def _write(self, conn: psycopg.Connection[Any], event: dict[str, Any], kind: str, claim: Filed,
               notifications: list[Notification]) -> psycopg.Cursor[Any]:  # fmt: skip
        """The message's texts (once per event: the returned cursor's rowcount says whether this was the
        first time) and the delivery-log rows of its Notifications."""
        context = self._context(event, claim)
        fr = self.renderer.render(kind, "fr", context)
        ar = self.renderer.render(kind, "ar", context)
        inserted = conn.execute(
            "INSERT INTO notifications (event_id, claim_id, kind, immatriculation, subject_fr, body_fr, "
            "subject_ar, body_ar) VALUES (%s, %s, %s, %s, %s, %s, %s, %s) ON CONFLICT (event_id) DO NOTHING",
            (event["event_id"], event["claim_id"], kind, context["immatriculation"],
             fr.subject, fr.body, ar.subject, ar.body),
        )  # fmt: skip
        delivery_log.upsert(conn, *notifications)
        return inserted

    @staticmethod
    def _context(event: dict[str, Any], claim: Filed) -> dict[str, Any]:
        """The claim as filed (from the store: later events do not repeat who the claim concerns)."""
        motif = MOTIFS.get(claim["motif_code"])
        dates = {name: _dmy(event[name]) for name in ("return_date", "benefit_end") if name in event}
        return (
            event
            | dates
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
