"""The return to work (ipe_claims/application/returning.py) on the library's in-memory store."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime
from decimal import Decimal

import pytest

from ipe_claims.application.claims import ClaimsApplication
from ipe_claims.application.clock import FixedClock
from ipe_claims.application.returning import RecordReturnToWork
from ipe_claims.domain.claim import Claim
from ipe_claims.domain.contributions import MonthlyDeclaration, months_before
from ipe_claims.domain.lifecycle import InvalidReturnToWork
from ipe_claims.domain.rules import ClaimFacts, decide

LOSS = date(2026, 3, 10)
DECLARED_AT = datetime(2026, 6, 3, 9, tzinfo=UTC)


def decided(app: ClaimsApplication, months: int) -> Claim:
    claim = Claim.submit(
        uuid.uuid4(), affiliation_number="1234567", immatriculation="100000001", cin="BE1", nom="ALAMI",
        prenoms="Fatima", job_loss_date=LOSS, motif_code="licenciement_economique", attestation=True,
        filed_at=datetime(2026, 3, 12, 9, tzinfo=UTC), submitted_by="demo", channel="http",
    )  # fmt: skip
    history = [MonthlyDeclaration("1234567", m, 26, Decimal("4000")) for m in months_before(LOSS, months)]
    claim.decide(decide(ClaimFacts(LOSS, date(2026, 3, 12), claim.motif_code), history), "projector")
    app.save(claim)
    return claim


def test_a_return_to_work_ends_the_benefit_once_timed_by_the_clock(app: ClaimsApplication) -> None:
    claim = decided(app, months=36)
    record = RecordReturnToWork(app, FixedClock(DECLARED_AT))

    returned = record(claim.id, date(2026, 6, 2), "employer:1234567")
    again = record(claim.id, date(2026, 6, 2), "employer:1234567")  # a retry

    assert returned.returned is not None and returned.returned.benefit_end == date(2026, 6, 1)
    assert returned.returned.declared_on == date(2026, 6, 3) and returned.modified_on == DECLARED_AT
    assert again.version == returned.version == 3


def test_a_caseworker_records_a_paper_declaration_on_its_own_date(app: ClaimsApplication) -> None:
    claim = decided(app, months=36)
    returned = RecordReturnToWork(app, FixedClock(DECLARED_AT))(
        claim.id, date(2026, 5, 2), "cli:agent@host", declared_on=date(2026, 5, 4)
    )
    assert returned.returned is not None and returned.returned.declared_on == date(2026, 5, 4)


def test_only_a_valid_claim_has_a_benefit_to_end(app: ClaimsApplication) -> None:
    rejected = decided(app, months=3)
    with pytest.raises(InvalidReturnToWork):
        RecordReturnToWork(app, FixedClock(DECLARED_AT))(rejected.id, date(2026, 6, 2), "employer:1234567")
    assert app.get_claim(rejected.id).version == 2
