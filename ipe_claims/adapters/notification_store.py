"""The ``NotificationStore`` port on the claims application (any persistence the library offers)."""

from __future__ import annotations

import functools
import uuid
from collections.abc import Collection

from eventsourcing.persistence import IntegrityError
from eventsourcing.postgres import PostgresAggregateRecorder

from ipe_claims.adapters.claim_messages import RecordDecoder, to_record
from ipe_claims.application.claims import ClaimsApplication
from ipe_claims.application.ports import Filed
from ipe_claims.domain.notification import Notification


class StoredNotifications:
    def __init__(self, app: ClaimsApplication) -> None:
        self.app = app

    def filed(self, claim_ids: Collection[uuid.UUID]) -> dict[uuid.UUID, Filed]:
        """Whom each claim concerns and what was filed, from its ClaimSubmitted event (the claim's first:
        later events never change these facts). On Postgres the events come from one query, decoded by
        the relay's fast decoder, instead of every event of each claim folded into its aggregate."""
        filed: dict[uuid.UUID, Filed] = {}
        if isinstance(self.app.recorder, PostgresAggregateRecorder):
            for stored in self.app.first_events(claim_ids):
                name, record = self.decoder.record(stored)
                if name == "ClaimSubmitted":
                    filed[uuid.UUID(str(stored.originator_id))] = record
            return filed
        for claim_id in claim_ids:
            for event in self.app.events.get(claim_id, lte=1):
                name, record = to_record(event)
                if name == "ClaimSubmitted":
                    filed[claim_id] = record
        return filed

    @functools.cached_property
    def decoder(self) -> RecordDecoder:
        return RecordDecoder(self.app.mapper)

    def notifications(self, ids: Collection[uuid.UUID]) -> dict[uuid.UUID, Notification]:
        found = self.app.get_many(ids)
        return {key: value for key, value in found.items() if isinstance(value, Notification)}

    def notification(self, notification_id: uuid.UUID) -> Notification:
        found: object = self.app.repository.get(notification_id)
        if not isinstance(found, Notification):
            raise TypeError(f"{notification_id} is not a Notification")
        return found

    def save_once(self, *notifications: Notification) -> bool:
        try:
            self.app.save(*notifications)
        except IntegrityError:
            return False
        return True
