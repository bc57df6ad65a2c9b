"""The ``NotificationStore`` port on the claims application (any persistence the library offers)."""

from __future__ import annotations

import functools
import uuid
from collections.abc import Collection

from eventsourcing.persistence import IntegrityError

from ipe_claims.adapters.claim_messages import RecordDecoder
from ipe_claims.application.claims import ClaimsApplication
from ipe_claims.application.ports import Filed
from ipe_claims.domain.claim import Claim
from ipe_claims.domain.notification import Notification


class StoredNotifications:
    def __init__(self, app: ClaimsApplication) -> None:
        self.app = app

    def filed(self, claim_ids: Collection[uuid.UUID]) -> dict[uuid.UUID, Filed]:
        """Whom each claim concerns and what was filed, from its ClaimSubmitted event (the claim's first:
        later events never change these facts), decoded by the relay's fast decoder instead of every event
        of each claim folded into its aggregate (on Postgres, the first events come in one query)."""
        filed: dict[uuid.UUID, Filed] = {}
        for stored in self.app.first_events(claim_ids):
            name, record = self.decoder.record(stored)
            if name == "ClaimSubmitted":
                filed[uuid.UUID(str(stored.originator_id))] = record
        return filed

    def claim_at(self, claim_id: uuid.UUID, version: int) -> Claim:
        """The claim folded up to ``version`` (one read of its first events, on Postgres one query)."""
        return self.app.get_claim(claim_id, version=version)

    @functools.cached_property
    def decoder(self) -> RecordDecoder:
        return RecordDecoder(self.app)

    def notifications(self, ids: Collection[uuid.UUID]) -> dict[uuid.UUID, Notification]:
        found = self.app.get_many(ids)
        return {key: value for key, value in found.items() if isinstance(value, Notification)}

    def notification(self, notification_id: uuid.UUID) -> Notification:
        return self.app.get_delivery(notification_id)

    def save_once(self, *notifications: Notification) -> bool:
        try:
            self.app.save(*notifications)
        except IntegrityError:
            return False
        return True
