"""The eligibility projector: decides each submitted claim and keeps the ``claims`` read model.

On ClaimSubmitted it projects the row, then decides the claim from the insured's contribution history
by the rules in force at the job-loss date and appends the decision to the claim's stream (once: a
redelivered submission finds the claim decided). On ClaimDecided it projects the decision.
"""

from __future__ import annotations

from typing import Any

import psycopg
import structlog
from kafka.consumer.fetcher import ConsumerRecord

from ipe_claims.adapters.avro import AvroCodec
from ipe_claims.adapters.declarations import contribution_history
from ipe_claims.application import CASABLANCA, ClaimsApplication
from ipe_claims.domain.claim import Claim
from ipe_claims.domain.rules import ClaimFacts, Decision, decide
from ipe_claims.projections import apply_claim_event

log = structlog.get_logger()
CONSUMER_NAME = "ipe-eligibility-projector"


class EligibilityProjector:
    def __init__(self, app: ClaimsApplication, codec: AvroCodec) -> None:
        self.app = app
        self.codec = codec

    def handle(self, conn: psycopg.Connection[Any], record: ConsumerRecord) -> None:
        name, event = self.codec.decode(record.value)
        apply_claim_event(conn, name, event)
        if name == "ClaimSubmitted":
            claim = self.app.decide(
                event["claim_id"], lambda claim: self.rules(conn, claim), decided_by=CONSUMER_NAME
            )
            assert claim.decision is not None
            log.info(
                "claim.decided",
                claim_id=str(event["claim_id"]),
                event_id=str(event["event_id"]),
                situation=claim.decision.situation,
                rejection_code=claim.decision.rejection_code,
            )
        else:
            log.info(
                "claim.projected",
                claim_id=str(event["claim_id"]),
                event_id=str(event["event_id"]),
                event_type=name,
            )

    @staticmethod
    def rules(conn: psycopg.Connection[Any], claim: Claim) -> Decision:
        facts = ClaimFacts(
            job_loss_date=claim.job_loss_date,
            filed_on=claim.filed_at.astimezone(CASABLANCA).date(),
            motif_code=claim.motif_code,
        )
        return decide(facts, contribution_history(conn, claim.immatriculation, claim.job_loss_date))
