"""The claim aggregate and the insured's record: invariants, events, and what "open" means."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime
from decimal import Decimal

import pytest

from ipe_claims.application.deciding import settle
from ipe_claims.domain.claim import Claim, ClaimAlreadyDecided, InsuredRecord, event_id
from ipe_claims.domain.contributions import MonthlyDeclaration, months_before
from ipe_claims.domain.rules import ClaimFacts, Decision, decide

LOSS = date(2026, 3, 10)


def a_claim(motif: str = "licenciement_economique") -> Claim:
    return Claim.submit(
        uuid.uuid4(), affiliation_number="1234567", immatriculation="100000001", cin="BE1", nom="ALAMI",
        prenoms="Fatima", job_loss_date=LOSS, motif_code=motif, attestation=True,
        filed_at=datetime(2026, 3, 12, 9, tzinfo=UTC), submitted_by="demo", channel="http",
    )  # fmt: skip


def a_decision(motif: str = "licenciement_economique", months: int = 36) -> Decision:
    history = [MonthlyDeclaration("1234567", m, 26, Decimal("4000")) for m in months_before(LOSS, months)]
    return decide(ClaimFacts(LOSS, date(2026, 3, 12), motif), history)


def test_a_submitted_claim_is_en_cours_and_records_one_event() -> None:
    claim = a_claim()
    assert claim.situation == "En cours"
    events = claim.collect_events()
    assert [type(e).__name__ for e in events] == ["Submitted"]
    assert events[0].job_loss_date == LOSS


def test_a_claim_is_decided_once() -> None:
    claim = a_claim()
    claim.decide(a_decision(), decided_by="projector")
    assert claim.situation == "Valable"
    assert claim.decision is not None and claim.decision.monthly_amount == Decimal("2800.00")
    with pytest.raises(ClaimAlreadyDecided):
        claim.decide(a_decision(), decided_by="projector")
    assert [type(e).__name__ for e in claim.collect_events()] == ["Submitted", "Decided"]


def test_replaying_the_events_rebuilds_the_same_claim() -> None:
    claim = a_claim()
    claim.decide(a_decision(months=20), decided_by="projector")
    rebuilt = None
    for event in claim.collect_events():
        rebuilt = event.mutate(rebuilt)
    assert isinstance(rebuilt, Claim)
    assert rebuilt.decision == claim.decision and rebuilt.situation == "Rejeté"


def test_a_claim_stays_open_through_its_benefit_period_unless_rejected() -> None:
    valid = a_claim()
    valid.decide(a_decision(), decided_by="projector")
    assert valid.is_open_on(date(2026, 9, 10))  # the last day covered (6 months)
    assert not valid.is_open_on(date(2026, 9, 11))
    rejected = a_claim("demission")
    rejected.decide(a_decision("demission"), decided_by="projector")
    assert not rejected.is_open_on(LOSS)
    assert a_claim().is_open_on(date(2026, 4, 1))  # en cours


def test_event_ids_are_stable_per_claim_and_version() -> None:
    claim_id = uuid.uuid4()
    assert event_id(claim_id, 2) == event_id(claim_id, 2)
    assert event_id(claim_id, 1) != event_id(claim_id, 2)


def test_the_insured_record_has_one_stream_per_insured_and_lists_claims() -> None:
    record = InsuredRecord.open("100000001")
    assert record.id == InsuredRecord.id_for("100000001") != InsuredRecord.id_for("100000002")
    assert record.last_claim_id is None
    first, second = uuid.uuid4(), uuid.uuid4()
    record.open_claim(first)
    record.open_claim(second)
    assert record.claim_ids == [first, second] and record.last_claim_id == second


def test_a_claims_events_are_timed_by_the_clock_that_filed_and_decided_it() -> None:
    """Not the library's wall clock: a system living on another day (tests, a rehearsal) dates its
    situations on that day, and the situation date an employer reads is the decider's."""
    claim = a_claim()
    assert claim.created_on == datetime(2026, 3, 12, 9, tzinfo=UTC)  # its filed_at
    history = [MonthlyDeclaration("1234567", m, 26, Decimal("4000")) for m in months_before(LOSS, 36)]
    decided_at = datetime(2026, 3, 12, 9, 0, 2, tzinfo=UTC)
    settle(claim, history, decided_at, decided_by="ipe-eligibility-projector")
    assert claim.situation == "Valable"
    assert [e.timestamp for e in claim.collect_events()] == [claim.created_on, decided_at]
    assert claim.modified_on == decided_at
