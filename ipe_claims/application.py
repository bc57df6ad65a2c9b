"""The claims application: the service boundary over the ``eventsourcing`` Postgres event store.

Services are thin: load, call the aggregate, save. Saving a claim and the insured's record in one
transaction is what makes "one open claim per insured" atomic rather than a check-then-act race.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Sequence
from datetime import date, datetime
from typing import Any
from zoneinfo import ZoneInfo

from eventsourcing.application import Application
from eventsourcing.domain import DomainEventProtocol
from eventsourcing.persistence import IntegrityError, JSONTranscoder, Notification, Transcoding
from eventsourcing.utils import get_topic

from ipe_claims.domain.claim import Claim, InsuredRecord, OpenClaimExists
from ipe_claims.domain.rules import Decision

CASABLANCA = ZoneInfo("Africa/Casablanca")
CLAIM_TOPICS = (get_topic(Claim.Submitted), get_topic(Claim.Decided))


class DateAsISO(Transcoding):
    type = date
    name = "date_iso"

    def encode(self, obj: date) -> str:
        return obj.isoformat()

    def decode(self, data: str) -> date:
        return date.fromisoformat(data)


class ClaimsApplication(Application[uuid.UUID]):
    name = "ipe"  # the events table is ``ipe_events``

    def register_transcodings(self, transcoder: JSONTranscoder) -> None:
        super().register_transcodings(transcoder)
        transcoder.register(DateAsISO())

    def get_claim(self, claim_id: uuid.UUID) -> Claim:
        claim = self.repository.get(claim_id)
        assert isinstance(claim, Claim)
        return claim

    def find_claim(self, claim_id: uuid.UUID) -> Claim | None:
        return self.get_claim(claim_id) if claim_id in self.repository else None

    def submit(self, claim_id: uuid.UUID, filed_at: datetime, **submitted: Any) -> Claim:
        """Append a ClaimSubmitted event; refuse when the insured has an open claim.

        ``claim_id`` is deterministic for idempotent submissions: if it already exists, it is returned
        unchanged and the caller compares what was asked with what is stored.
        """
        for attempt in range(5):
            existing = self.find_claim(claim_id)
            if existing is not None:
                return existing
            record = self._insured_record(submitted["immatriculation"])
            if record.last_claim_id is not None:
                last = self.get_claim(record.last_claim_id)
                if last.is_open_on(filed_at.astimezone(CASABLANCA).date()):
                    raise OpenClaimExists(last.id)
            claim = Claim.submit(claim_id, filed_at=filed_at, **submitted)
            record.open_claim(claim.id)
            try:
                self.save(claim, record)
            except IntegrityError:
                if attempt == 4:
                    raise
                continue  # a concurrent submission won the race; look again
            return claim
        raise AssertionError("unreachable")

    def _insured_record(self, immatriculation: str) -> InsuredRecord:
        record_id = InsuredRecord.id_for(immatriculation)
        if record_id in self.repository:
            record = self.repository.get(record_id)
            assert isinstance(record, InsuredRecord)
            return record
        return InsuredRecord.open(immatriculation)

    def decide(self, claim_id: uuid.UUID, rules: Callable[[Claim], Decision], decided_by: str) -> Claim:
        """Decide a claim once. A claim already decided is returned as it is (redelivery is a no-op)."""
        claim = self.get_claim(claim_id)
        if claim.decision is not None:
            return claim
        claim.decide(rules(claim), decided_by)
        try:
            self.save(claim)
        except IntegrityError:
            return self.get_claim(claim_id)  # another projector member decided it first
        return claim

    def claim_notifications(self, after: int, limit: int) -> Sequence[Notification]:
        """The store's global order, claim events only, after notification id ``after``."""
        return self.recorder.select_notifications(
            start=after, limit=limit, topics=CLAIM_TOPICS, inclusive_of_start=False
        )

    def to_event(self, notification: Notification) -> DomainEventProtocol[uuid.UUID]:
        return self.mapper.to_domain_event(notification)
