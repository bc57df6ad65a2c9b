"""The eligibility projector: keeps the ``claims`` read model and decides each submitted claim.

A process that only wires: it decodes the claim events of a poll, projects them
(``adapters.projections``), and hands the submitted claims to the decide use case
(``application.deciding``), which waits for a declaration still coming or decides, once. A sweep hands it
the waiting claims, to decide those whose declaration arrived or whose wait expired, and the dossiers, to
end those incomplete past their deadline and remind the workers who still owe pieces shortly before it.
"""

from __future__ import annotations

import threading
import uuid
from datetime import date, timedelta
from typing import Any

import psycopg
import structlog
from eventsourcing.persistence import IntegrityError
from kafka.consumer.fetcher import ConsumerRecord

from ipe_claims.adapters.avro import AvroCodec, AvroDecodeError
from ipe_claims.adapters.declarations import DeclarationsOnConnection
from ipe_claims.adapters.dossier_projection import open_missing
from ipe_claims.adapters.kafka import TrackedConsumer
from ipe_claims.adapters.loops import TRANSIENT, supervised
from ipe_claims.adapters.projections import apply_event
from ipe_claims.application.claims import ClaimsApplication
from ipe_claims.application.clock import Clock
from ipe_claims.application.deciding import Decider
from ipe_claims.application.dossier import ExpireDossiers, RemindDossiers
from ipe_claims.application.paying import KeepSchedules
from ipe_claims.domain.claim import Claim
from ipe_claims.domain.dossier import DOSSIER_RULES, REFUSED
from ipe_claims.settings import CLAIM_EVENTS_TOPIC, Settings

log = structlog.get_logger()
CONSUMER_NAME = "ipe-eligibility-projector"
SWEEP_SECONDS = 5.0
OPEN_BATCH = 500  # dossier rows opened per sweep for the claims filed before migration 078
# A claim's payments follow its decisions and its return to work (application/paying.py).
SCHEDULE_FOLLOWS = ("ClaimDecided", "ClaimReturnedToWork")
# The widest reminder window of any version of the dossier rules: the sweep's SQL asks about those dossiers,
# the domain then says for each claim whether its own version's window holds today.
REMINDER_DAYS = max(rules.reminder_days_before_deadline for rules in DOSSIER_RULES)


class EligibilityProjector:
    def __init__(self, app: ClaimsApplication, codec: AvroCodec, clock: Clock) -> None:
        self.app = app
        self.codec = codec
        self.clock = clock  # times the events a settlement records, and gives the sweep its today
        self.dossiers_opened = False  # every claim projected before this process started has its dossier row

    def consumer(self, settings: Settings, name: str = CONSUMER_NAME) -> TrackedConsumer:
        return TrackedConsumer(settings, name, [CLAIM_EVENTS_TOPIC], self.handle, poison=(AvroDecodeError,))

    def decider(self, conn: psycopg.Connection[Any]) -> Decider:
        """The decide use case, reading declarations in the caller's transaction."""
        return Decider(self.app, DeclarationsOnConnection(conn), self.clock, decided_by=CONSUMER_NAME)

    def handle(self, conn: psycopg.Connection[Any], records: list[ConsumerRecord]) -> None:
        """Project the records' claim events (pipelined: one round trip) and settle the submitted claims
        (``Decider.settle``: two reads and one save, whatever the poll's size). A conflict with another
        writer raises: TrackedConsumer redoes the records one at a time, and the loser of a race finds
        its claim settled."""
        events = [self.codec.decode(record.value) for record in records]
        with conn.pipeline():
            for name, event in events:
                apply_event(conn, name, event)
        submitted = [uuid.UUID(str(event["claim_id"])) for name, event in events if name == "ClaimSubmitted"]
        for claim in self.decider(conn).settle(submitted):
            self._log_settled(claim)
        followed = [uuid.UUID(str(event["claim_id"])) for name, event in events if name in SCHEDULE_FOLLOWS]
        for claim in KeepSchedules(self.app, self.clock)(followed) if followed else ():
            log.info("claim.payments_followed", claim_id=str(claim.id))
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

    def sweep(self, conn: psycopg.Connection[Any], today: date) -> int:
        """Settle the waiting claims whose declaration arrived or whose wait expired; return how many.
        One claim at a time: a claim another writer settled meanwhile keeps the winner's change."""
        waiting = conn.execute(
            "SELECT claim_id FROM claims WHERE situation = 'En cours' AND awaiting_due IS NOT NULL "
            "ORDER BY awaiting_due, claim_id"
        ).fetchall()
        decider, settled = self.decider(conn), 0
        for (claim_id,) in waiting:
            try:
                changed = decider.settle([claim_id], today)
            except IntegrityError:
                continue  # settled by another writer: the next sweep sees the read model move on
            for claim in changed:
                if claim.decision is not None:
                    settled += 1
                    log.info(
                        "claim.decided_after_wait", claim_id=str(claim_id), situation=claim.decision.situation
                    )
        return settled

    def open_dossiers(self, conn: psycopg.Connection[Any]) -> int:
        """Open the dossier rows of a batch of claims filed before migration 078 (``open_missing``), until a
        batch finds fewer than OPEN_BATCH: the claims projected since have theirs from their ClaimSubmitted
        (a restore rebuilds both tables from the log). Return how many this call opened."""
        if self.dossiers_opened:
            return 0
        with conn.transaction():
            opened = open_missing(conn, OPEN_BATCH)
        if opened:
            log.info("dossiers.opened", count=opened)
        self.dossiers_opened = opened < OPEN_BATCH
        return opened

    def expire_dossiers(self, conn: psycopg.Connection[Any]) -> int:
        """End the Valable claims whose dossier was incomplete on its deadline (Rejeté "dossier incomplet",
        ``application.dossier.ExpireDossiers``, on the clock's today); return how many."""
        due = conn.execute(
            "SELECT d.claim_id FROM dossiers d JOIN claims c USING (claim_id) WHERE NOT d.complete "
            "AND d.expired_on IS NULL AND d.deadline < %s AND c.situation = 'Valable' ORDER BY d.deadline",
            (self.clock.today(),),
        ).fetchall()
        ended = ExpireDossiers(self.app, self.clock, decided_by=CONSUMER_NAME)([row[0] for row in due])
        for claim in ended:
            log.info("claim.dossier_expired", claim_id=str(claim.id))
        return len(ended)

    def remind_dossiers(self, conn: psycopg.Connection[Any]) -> int:
        """Record the reminder due to the workers of Valable claims who still owe pieces in the days before
        the deadline (``application.dossier.RemindDossiers``, on the clock's today); return how many. Only
        dossiers with a required piece missing or refused are loaded: one whose pieces all wait on the agency
        owes nothing, and would otherwise be loaded at every sweep until its deadline."""
        today = self.clock.today()
        due = conn.execute(
            "SELECT d.claim_id FROM dossiers d JOIN claims c USING (claim_id) WHERE NOT d.complete "
            "AND d.expired_on IS NULL AND d.reminded_on IS NULL AND d.deadline >= %s AND d.deadline <= %s "
            "AND c.situation = 'Valable' AND EXISTS (SELECT 1 FROM unnest(d.required) AS r(kind) "
            "WHERE NOT EXISTS (SELECT 1 FROM dossier_documents p WHERE p.claim_id = d.claim_id "
            "AND p.kind = r.kind AND p.status <> %s)) ORDER BY d.deadline",
            (today, today + timedelta(days=REMINDER_DAYS), REFUSED),
        ).fetchall()
        reminded = RemindDossiers(self.app, self.clock)([row[0] for row in due])
        for claim in reminded:
            log.info("claim.dossier_reminder_due", claim_id=str(claim.id))
        return len(reminded)

    def run_sweeps(self, database_url: str, stop: threading.Event) -> None:
        """A sweep every SWEEP_SECONDS, the first SWEEP_SECONDS after the start."""

        def sweep(conn: psycopg.Connection[Any]) -> float:
            self.sweep(conn, self.clock.today())
            self.open_dossiers(conn)
            self.expire_dossiers(conn)
            self.remind_dossiers(conn)
            return SWEEP_SECONDS

        if not stop.wait(SWEEP_SECONDS):
            supervised(sweep, stop, "sweep", database_url=database_url, transient=(*TRANSIENT, psycopg.Error))
