"""The eligibility projector: decides each submitted claim and keeps the ``claims`` read model.

On ClaimSubmitted it projects the row, then settles the claim: it waits when the claiming
affiliation's declaration for the month before the loss is still coming, otherwise it decides from the
insured's contribution history by the rules in force at the job-loss date and appends the decision to
the claim's stream (once: a redelivered submission finds the claim settled). Other claim events are
projected. A sweep decides waiting claims when their declaration arrives or their wait expires.
"""

from __future__ import annotations

import threading
from datetime import date, datetime
from typing import Any

import psycopg
import structlog
from kafka.consumer.fetcher import ConsumerRecord

from ipe_claims.adapters.avro import AvroCodec
from ipe_claims.adapters.declarations import contribution_history, declared_by
from ipe_claims.application import ClaimsApplication
from ipe_claims.domain.claim import Claim
from ipe_claims.domain.dates import CASABLANCA
from ipe_claims.domain.lifecycle import awaited_declaration
from ipe_claims.domain.rules import ClaimFacts, Decision, decide, ruleset_for
from ipe_claims.projections import apply_claim_event

log = structlog.get_logger()
CONSUMER_NAME = "ipe-eligibility-projector"
SWEEP_SECONDS = 5.0


class EligibilityProjector:
    def __init__(self, app: ClaimsApplication, codec: AvroCodec) -> None:
        self.app = app
        self.codec = codec

    def handle(self, conn: psycopg.Connection[Any], record: ConsumerRecord) -> None:
        name, event = self.codec.decode(record.value)
        apply_claim_event(conn, name, event)
        ids = {"claim_id": str(event["claim_id"]), "event_id": str(event["event_id"])}
        if name == "ClaimSubmitted":
            claim = self.app.advance(event["claim_id"], lambda claim: self.settle(conn, claim))
            if claim.decision is not None:
                log.info("claim.decided", **ids, situation=claim.decision.situation,
                         rejection_code=claim.decision.rejection_code)  # fmt: skip
            else:
                log.info("claim.awaiting_declaration", **ids)
        else:
            log.info("claim.projected", **ids, event_type=name)

    def settle(self, conn: psycopg.Connection[Any], claim: Claim, today: date | None = None) -> None:
        """Decide the claim, or wait for a declaration still coming. ``today`` is the sweep's observation
        of the clock; without it (a submission being handled) a wait never expires."""
        if claim.decision is not None:
            return
        awaiting = claim.awaiting
        if awaiting is None:
            filed_on = claim.filed_at.astimezone(CASABLANCA).date()
            months = declared_by(conn, claim.immatriculation, claim.affiliation_number, claim.job_loss_date)
            awaited = awaited_declaration(claim.affiliation_number, claim.job_loss_date, filed_on, months,
                                          ruleset_for(claim.job_loss_date))  # fmt: skip
            if awaited is not None:
                claim.await_declaration(awaited)
                return
        elif awaiting.month not in declared_by(conn, claim.immatriculation, awaiting.affiliation_number,
                                               claim.job_loss_date):  # fmt: skip
            if today is None or today <= awaiting.due:
                return
            claim.record_wait_expired(today)
        claim.decide(self.rules(conn, claim), decided_by=CONSUMER_NAME)

    @staticmethod
    def rules(conn: psycopg.Connection[Any], claim: Claim) -> Decision:
        facts = ClaimFacts(
            job_loss_date=claim.job_loss_date,
            filed_on=claim.filed_at.astimezone(CASABLANCA).date(),
            motif_code=claim.motif_code,
        )
        return decide(facts, contribution_history(conn, claim.immatriculation, claim.job_loss_date))

    def sweep(self, conn: psycopg.Connection[Any], today: date) -> int:
        """Settle the waiting claims whose declaration arrived or whose wait expired; return how many."""
        waiting = conn.execute(
            "SELECT claim_id FROM claims WHERE situation = 'En cours' AND awaiting_due IS NOT NULL "
            "ORDER BY awaiting_due, claim_id"
        ).fetchall()
        settled = 0
        for (claim_id,) in waiting:
            claim = self.app.advance(claim_id, lambda claim: self.settle(conn, claim, today))
            if claim.decision is not None:
                settled += 1
                log.info(
                    "claim.decided_after_wait", claim_id=str(claim_id), situation=claim.decision.situation
                )
        return settled

    def run_sweeps(self, database_url: str, stop: threading.Event) -> None:
        while not stop.wait(SWEEP_SECONDS):
            try:
                with psycopg.connect(database_url, autocommit=True) as conn:
                    self.sweep(conn, datetime.now(CASABLANCA).date())
            except psycopg.Error as exc:
                log.warning("sweep.failed", error=type(exc).__name__)
