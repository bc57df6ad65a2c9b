"""The eligibility projector: decides each submitted claim and keeps the ``claims`` read model.

On ClaimSubmitted it projects the row, then settles the claim: it waits when the claiming
affiliation's declaration for the month before the loss is still coming, otherwise it decides from the
insured's contribution history by the rules in force at the job-loss date and appends the decision to
the claim's stream (once: a redelivered submission finds the claim settled). Other claim events are
projected. A sweep decides waiting claims when their declaration arrives or their wait expires.
"""

from __future__ import annotations

import threading
import uuid
from datetime import date, datetime
from typing import Any

import psycopg
import structlog
from kafka.consumer.fetcher import ConsumerRecord

from ipe_claims.adapters.avro import AvroCodec, AvroDecodeError
from ipe_claims.adapters.declarations import contribution_histories, contribution_history
from ipe_claims.adapters.kafka import TrackedConsumer
from ipe_claims.adapters.loops import TRANSIENT, supervised
from ipe_claims.adapters.projections import apply_claim_event
from ipe_claims.application.claims import ClaimsApplication
from ipe_claims.application.clock import Clock
from ipe_claims.domain.claim import Claim
from ipe_claims.domain.contributions import MonthlyDeclaration
from ipe_claims.domain.dates import CASABLANCA
from ipe_claims.domain.lifecycle import awaited_declaration
from ipe_claims.domain.rules import ClaimFacts, decide, ruleset_for
from ipe_claims.settings import CLAIM_EVENTS_TOPIC, Settings

log = structlog.get_logger()
CONSUMER_NAME = "ipe-eligibility-projector"
SWEEP_SECONDS = 5.0


class EligibilityProjector:
    def __init__(self, app: ClaimsApplication, codec: AvroCodec, clock: Clock) -> None:
        self.app = app
        self.codec = codec
        self.clock = clock  # times the events a settlement records, and gives the sweep its today

    def consumer(self, settings: Settings, name: str = CONSUMER_NAME) -> TrackedConsumer:
        return TrackedConsumer(settings, name, [CLAIM_EVENTS_TOPIC], self.handle, poison=(AvroDecodeError,),
                               batch_handler=self.handle_batch)  # fmt: skip

    def handle(self, conn: psycopg.Connection[Any], record: ConsumerRecord) -> None:
        name, event = self.codec.decode(record.value)
        apply_claim_event(conn, name, event)
        ids = {"claim_id": str(event["claim_id"]), "event_id": str(event["event_id"])}
        if name == "ClaimSubmitted":
            claim = self.app.advance(
                event["claim_id"],
                lambda claim: self.settle(claim, self.history(conn, claim), self.clock.now()),
            )
            self._log_settled(claim)
        else:
            log.info("claim.projected", **ids, event_type=name)

    def handle_batch(self, conn: psycopg.Connection[Any], records: list[ConsumerRecord]) -> None:
        """A poll's events like ``handle``, in a few round trips whatever its size: the projections go
        out pipelined, the claims to settle and their histories are read with one query each, and every
        decision is saved with one ``save`` (one event-store transaction). A conflict raises: the poll
        is redone record by record, where the loser of a race finds the claim settled."""
        events = [self.codec.decode(record.value) for record in records]
        with conn.pipeline():
            for name, event in events:
                apply_claim_event(conn, name, event)
        submitted = [uuid.UUID(str(event["claim_id"])) for name, event in events if name == "ClaimSubmitted"]
        found = self.app.get_many(submitted)
        claims: list[Claim] = [found[claim_id] for claim_id in dict.fromkeys(submitted)]
        unsettled = [claim for claim in claims if claim.decision is None]
        histories = contribution_histories(conn, [(c.immatriculation, c.job_loss_date) for c in unsettled])
        changed = []
        for claim, history in zip(unsettled, histories, strict=True):
            version = claim.version
            self.settle(claim, history, self.clock.now())
            if claim.version != version:
                changed.append(claim)
        self.app.save(*changed)
        for claim in changed:
            self._log_settled(claim)
        for name, event in events:
            if name != "ClaimSubmitted":
                log.info("claim.projected", claim_id=str(event["claim_id"]), event_id=str(event["event_id"]),
                         event_type=name)  # fmt: skip

    @staticmethod
    def _log_settled(claim: Claim) -> None:
        if claim.decision is not None:
            log.info("claim.decided", claim_id=str(claim.id), situation=claim.decision.situation,
                     rejection_code=claim.decision.rejection_code)  # fmt: skip
        else:
            log.info("claim.awaiting_declaration", claim_id=str(claim.id))

    @staticmethod
    def history(conn: psycopg.Connection[Any], claim: Claim) -> list[MonthlyDeclaration]:
        """What the rules read: every affiliation's declarations for the 36 months before the loss."""
        return contribution_history(conn, claim.immatriculation, claim.job_loss_date)

    @staticmethod
    def settle(
        claim: Claim, history: list[MonthlyDeclaration], now: datetime, today: date | None = None
    ) -> None:
        """Decide the claim from the insured's ``history``, or wait for a declaration still coming; what it
        records is timed ``now``. ``today`` is the sweep's observation of the clock; without it (a submission
        being handled) a wait never expires. The decision itself reads only the log's instants."""
        if claim.decision is not None:
            return

        def declared_by(affiliation_number: str) -> set[date]:
            return {line.period for line in history if line.affiliation_number == affiliation_number}

        awaiting = claim.awaiting
        filed_on = claim.filed_at.astimezone(CASABLANCA).date()
        if awaiting is None:
            awaited = awaited_declaration(claim.affiliation_number, claim.job_loss_date, filed_on,
                                          declared_by(claim.affiliation_number), ruleset_for(claim.job_loss_date))  # fmt: skip
            if awaited is not None:
                claim.await_declaration(awaited, now)
                return
        elif awaiting.month not in declared_by(awaiting.affiliation_number):
            if today is None or today <= awaiting.due:
                return
            claim.record_wait_expired(today, now)
        facts = ClaimFacts(job_loss_date=claim.job_loss_date, filed_on=filed_on, motif_code=claim.motif_code)
        claim.decide(decide(facts, history), decided_by=CONSUMER_NAME, at=now)

    def sweep(self, conn: psycopg.Connection[Any], today: date) -> int:
        """Settle the waiting claims whose declaration arrived or whose wait expired; return how many."""
        waiting = conn.execute(
            "SELECT claim_id FROM claims WHERE situation = 'En cours' AND awaiting_due IS NOT NULL "
            "ORDER BY awaiting_due, claim_id"
        ).fetchall()
        settled = 0
        for (claim_id,) in waiting:
            claim = self.app.advance(
                claim_id, lambda claim: self.settle(claim, self.history(conn, claim), self.clock.now(), today)
            )
            if claim.decision is not None:
                settled += 1
                log.info(
                    "claim.decided_after_wait", claim_id=str(claim_id), situation=claim.decision.situation
                )
        return settled

    def run_sweeps(self, database_url: str, stop: threading.Event) -> None:
        """A sweep every SWEEP_SECONDS, the first SWEEP_SECONDS after the start."""

        def sweep(conn: psycopg.Connection[Any]) -> float:
            self.sweep(conn, self.clock.today())
            return SWEEP_SECONDS

        if not stop.wait(SWEEP_SECONDS):
            supervised(sweep, stop, "sweep", database_url=database_url, transient=(*TRANSIENT, psycopg.Error))
