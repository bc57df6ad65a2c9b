"""The return to work (ipe_claims/application/returning.py) on the library's in-memory store."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime
from decimal import Decimal

import pytest

from ipe_claims.application.claims import ClaimKeptChanging, ClaimsApplication
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


def test_a_return_declared_while_the_projector_schedules_the_payments_is_not_lost(
    app: ClaimsApplication, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The projector saves the payment schedule between the declaration's load and its save: the declaration
    loses the race on the claim's version, then is recorded on the claim as the projector left it."""
    claim = decided(app, months=36)
    load = app.get_claim
    raced = []

    def load_then_projector_saves(claim_id: uuid.UUID) -> Claim:
        loaded = load(claim_id)
        if not raced:  # the projector's save lands after this load
            raced.append(True)
            scheduled = load(claim_id)
            scheduled.schedule_payments(at=DECLARED_AT)
            app.save(scheduled)
        return loaded

    monkeypatch.setattr(app, "get_claim", load_then_projector_saves)
    returned = RecordReturnToWork(app, FixedClock(DECLARED_AT))(
        claim.id, date(2026, 6, 2), "employer:1234567"
    )

    stored = load(claim.id)
    assert raced and returned.returned is not None
    assert stored.returned is not None and stored.returned.return_date == date(2026, 6, 2)
    assert [type(e).__name__ for e in app.events.get(claim.id)][-2:] == [
        "PaymentsScheduled",
        "ReturnedToWork",
    ]


def test_a_declaration_that_loses_every_race_says_so(
    app: ClaimsApplication, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Another writer first at every attempt: the caller hears the claim kept changing, nothing is dropped
    silently."""
    claim = decided(app, months=36)
    monkeypatch.setattr(app, "save_once", lambda *aggregates: False)
    with pytest.raises(ClaimKeptChanging) as refused:
        RecordReturnToWork(app, FixedClock(DECLARED_AT))(claim.id, date(2026, 6, 2), "employer:1234567")
    assert refused.value.code == "claim_changed" and app.get_claim(claim.id).returned is None
