"""The notifier: for each claim event that concerns the insured, the message (FR + AR) and one
Notification per channel the insured can be reached on, exactly once.

The texts go into ``notifications`` (keyed by the event id) in the consumer's transaction, with its
position. The Notification aggregates have ids derived from (event, channel) and are saved to the event
store first, through its own connection: a crash before the consumer commits redelivers the event,
which finds them and only writes the rows again. Sending is the sender's job (sender.py).
"""

from __future__ import annotations

import uuid
from typing import Any

import psycopg
import structlog
from eventsourcing.persistence import IntegrityError
from kafka.consumer.fetcher import ConsumerRecord

from ipe_claims.adapters import contacts, delivery_log
from ipe_claims.adapters.avro import AvroCodec
from ipe_claims.application import ClaimsApplication
from ipe_claims.domain.dates import CASABLANCA
from ipe_claims.domain.motifs import MOTIFS
from ipe_claims.domain.notification import Notification, channels_for, delivery_id
from ipe_claims.domain.rules import VALABLE
from services.notifier.messages import MessageRenderer

log = structlog.get_logger()
CONSUMER_NAME = "ipe-notifier"


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

    def handle(self, conn: psycopg.Connection[Any], record: ConsumerRecord) -> None:
        name, event = self.codec.decode(record.value)
        kind = kind_of(name, event)
        if kind is None:
            return
        context = self._context(event)
        fr = self.renderer.render(kind, "fr", context)
        ar = self.renderer.render(kind, "ar", context)
        inserted = conn.execute(
            "INSERT INTO notifications (event_id, claim_id, kind, immatriculation, subject_fr, body_fr, "
            "subject_ar, body_ar) VALUES (%s, %s, %s, %s, %s, %s, %s, %s) ON CONFLICT (event_id) DO NOTHING",
            (event["event_id"], event["claim_id"], kind, context["immatriculation"],
             fr.subject, fr.body, ar.subject, ar.body),
        ).rowcount  # fmt: skip
        notifications = self._request(conn, event, kind, context["immatriculation"])
        delivery_log.upsert(conn, *notifications)
        log.info(
            "notification.requested" if inserted else "notification.duplicate_ignored",
            claim_id=str(event["claim_id"]),
            event_id=str(event["event_id"]),
            kind=kind,
            channels=[n.channel for n in notifications],
        )

    def _request(
        self, conn: psycopg.Connection[Any], event: dict[str, Any], kind: str, immatriculation: str
    ) -> list[Notification]:
        """The event's Notifications: loaded if an earlier delivery of the event saved them, else created."""
        event_id, claim_id = uuid.UUID(str(event["event_id"])), uuid.UUID(str(event["claim_id"]))
        contact = contacts.find(conn, immatriculation)
        channels = channels_for(contact.email if contact else None, contact.mobile if contact else None)
        if delivery_id(event_id, channels[0]) in self.app.repository:
            return self._existing(event_id)
        address = {"email": contact.email if contact else None, "sms": contact.mobile if contact else None}
        created = [
            Notification.request(
                event_id,
                claim_id,
                kind,
                channel,
                address.get(channel) or "",
                contact.language if contact else "fr",
                self.message_id_domain,
            )
            for channel in channels
        ]
        try:
            self.app.save(*created)
        except IntegrityError:  # another member saved them first
            return self._existing(event_id)
        return created

    def _existing(self, event_id: uuid.UUID) -> list[Notification]:
        found = []
        for channel in ("email", "sms", "none"):
            key = delivery_id(event_id, channel)
            if key in self.app.repository:
                notification: object = self.app.repository.get(key)
                assert isinstance(notification, Notification)
                found.append(notification)
        return found

    def _context(self, event: dict[str, Any]) -> dict[str, Any]:
        """The claim as filed (from the store: later events do not repeat who the claim concerns)."""
        claim = self.app.get_claim(event["claim_id"])
        motif = MOTIFS.get(claim.motif_code)
        dates = {name: _dmy(event[name]) for name in ("return_date", "benefit_end") if name in event}
        return (
            event
            | dates
            | {
                "immatriculation": claim.immatriculation,
                "nom": claim.nom,
                "prenoms": claim.prenoms,
                "affiliation_number": claim.affiliation_number,
                "job_loss_date": _dmy(claim.job_loss_date),
                "filed_on": _dmy(claim.filed_at.astimezone(CASABLANCA)),
                "motif_label_fr": motif.label_fr if motif else claim.motif_code,
                "motif_label_ar": motif.label_ar if motif else claim.motif_code,
            }
        )
