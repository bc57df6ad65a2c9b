"""Claims and decisions for the tests of a claim's life after filing, saved in the library's in-memory store."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

from ipe_claims.application.claims import ClaimsApplication
from ipe_claims.domain.claim import Claim
from ipe_claims.domain.contributions import MonthlyDeclaration, months_before
from ipe_claims.domain.review import ForceMajeure, MotifRuling, decide_reviewed
from ipe_claims.domain.rib import rib_key
from ipe_claims.domain.rules import ClaimFacts, Decision, decide

LOSS = date(2026, 10, 2)
FILED_AT = datetime(2026, 10, 5, 9, tzinfo=UTC)
AGENT = {"agent": "agent.benali", "agency": "CASA-ANFA"}
RIB_22 = "0117800000123456789012"
RIB = RIB_22 + rib_key(RIB_22)
SCAN = "a" * 64


def on(day: date, hour: int = 10) -> datetime:
    return datetime(day.year, day.month, day.day, hour, tzinfo=UTC)


def a_claim(motif: str = "licenciement_economique", filed_at: datetime = FILED_AT) -> Claim:
    return Claim.submit(
        uuid.uuid4(), affiliation_number="1234567", immatriculation="100000001", cin="BE1", nom="ALAMI",
        prenoms="Fatima", job_loss_date=LOSS, motif_code=motif, attestation=True, filed_at=filed_at,
        submitted_by="demo", channel="http",
    )  # fmt: skip


def history(months: int = 36) -> list[MonthlyDeclaration]:
    return [MonthlyDeclaration("1234567", m, 26, Decimal("4000")) for m in months_before(LOSS, months)]


def decision_for(
    claim: Claim, months: int = 36, ruling: MotifRuling | None = None, plea: ForceMajeure | None = None
) -> Decision:
    facts = ClaimFacts(claim.job_loss_date, claim.filed_on, claim.motif_code)
    if ruling is None and plea is None:
        return decide(facts, history(months))
    return decide_reviewed(facts, history(months), motif_ruling=ruling, force_majeure=plea)


@contextmanager
def in_memory_app() -> Iterator[ClaimsApplication]:
    app = ClaimsApplication(env={"PERSISTENCE_MODULE": "eventsourcing.popo"})
    try:
        yield app
    finally:
        app.close()


def saved_and_loaded(app: ClaimsApplication, claim: Claim) -> Claim:
    """The claim as the store gives it back: every event through the mapper, replayed."""
    app.save(claim)
    return app.get_claim(claim.id)


def later(days: int) -> datetime:
    return FILED_AT + timedelta(days=days)
