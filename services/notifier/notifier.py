"""The notifier: one message to the insured per claim event that concerns them, exactly once.

The delivery log row is keyed by the event id and written in the same transaction as the consumer's
position, so a redelivered or re-published event adds nothing. Real channels come later; until then
every message is recorded with channel ``none``.
"""

from __future__ import annotations

from typing import Any

import psycopg
import structlog
from kafka.consumer.fetcher import ConsumerRecord

from ipe_claims.adapters.avro import AvroCodec
from ipe_claims.application import CASABLANCA, ClaimsApplication
from ipe_claims.domain.motifs import MOTIFS
from ipe_claims.domain.rules import VALABLE
from services.notifier.messages import MessageRenderer

log = structlog.get_logger()
CONSUMER_NAME = "ipe-notifier"


def _dmy(value: Any) -> str:
    return value.strftime("%d/%m/%Y")


class Notifier:
    def __init__(self, app: ClaimsApplication, codec: AvroCodec, renderer: MessageRenderer) -> None:
        self.app = app
        self.codec = codec
        self.renderer = renderer

    def handle(self, conn: psycopg.Connection[Any], record: ConsumerRecord) -> None:
        name, event = self.codec.decode(record.value)
        if name == "ClaimSubmitted":
            kind = "deposited"
        elif name == "ClaimDecided":
            kind = "valid" if event["situation"] == VALABLE else "rejected"
        else:
            return
        context = self._context(event)
        fr = self.renderer.render(kind, "fr", context)
        ar = self.renderer.render(kind, "ar", context)
        inserted = conn.execute(
            "INSERT INTO notifications (event_id, claim_id, kind, immatriculation, subject_fr, body_fr, "
            "subject_ar, body_ar) VALUES (%s, %s, %s, %s, %s, %s, %s, %s) ON CONFLICT (event_id) DO NOTHING",
            (
                event["event_id"],
                event["claim_id"],
                kind,
                context["immatriculation"],
                fr.subject,
                fr.body,
                ar.subject,
                ar.body,
            ),
        ).rowcount
        log.info(
            "notification.recorded" if inserted else "notification.duplicate_ignored",
            claim_id=str(event["claim_id"]),
            event_id=str(event["event_id"]),
            kind=kind,
        )

    def _context(self, event: dict[str, Any]) -> dict[str, Any]:
        """The claim as filed (from the store: the decision event does not repeat who it concerns)."""
        claim = self.app.get_claim(event["claim_id"])
        motif = MOTIFS.get(claim.motif_code)
        return event | {
            "immatriculation": claim.immatriculation,
            "nom": claim.nom,
            "prenoms": claim.prenoms,
            "affiliation_number": claim.affiliation_number,
            "job_loss_date": _dmy(claim.job_loss_date),
            "filed_on": _dmy(claim.filed_at.astimezone(CASABLANCA)),
            "motif_label_fr": motif.label_fr if motif else claim.motif_code,
            "motif_label_ar": motif.label_ar if motif else claim.motif_code,
        }
