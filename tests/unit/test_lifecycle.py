"""Waiting for a declaration still coming, and the return to work: the pure rules and the aggregate."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime
from decimal import Decimal

import pytest

from ipe_claims.domain.claim import Claim
from ipe_claims.domain.contributions import MonthlyDeclaration, months_before
from ipe_claims.domain.errors import DomainError
from ipe_claims.domain.lifecycle import (
    AwaitedDeclaration,
    InvalidReturnToWork,
    awaited_declaration,
    declaration_due,
    return_to_work,
)
from ipe_claims.domain.rules import RULESETS, ClaimFacts, decide

RULES = RULESETS[0]
LOSS = date(2026, 10, 2)
SEPTEMBER = date(2026, 9, 1)


def test_month_m_is_due_on_the_tenth_of_m_plus_one() -> None:
    assert declaration_due(SEPTEMBER, 10) == date(2026, 10, 10)
    assert declaration_due(date(2026, 12, 1), 10) == date(2027, 1, 10)


@pytest.mark.parametrize(
    ("filed_on", "declared", "awaited"),
    [
        (date(2026, 10, 5), set(), True),  # missing, not yet due: wait
        (date(2026, 10, 10), set(), True),  # filed on the deadline itself: still in time to come
        (date(2026, 10, 11), set(), False),  # overdue when filed: decide now, the month counts as missing
        (date(2026, 10, 5), {SEPTEMBER}, False),  # already declared: decide now
    ],
)
def test_only_a_declaration_still_coming_is_awaited(
    filed_on: date, declared: set[date], awaited: bool
) -> None:
    found = awaited_declaration("1234567", LOSS, filed_on, declared, RULES)
    assert (found == AwaitedDeclaration("1234567", SEPTEMBER, date(2026, 10, 10))) is awaited
    assert (found is None) is not awaited


@pytest.mark.parametrize(
    ("return_date", "months_due", "benefit_end"),
    [
        (date(2026, 10, 3), 0, date(2026, 10, 2)),  # back the day after the loss: nothing due
        (date(2026, 10, 4), 1, date(2026, 10, 3)),  # one day of entitlement starts the first month
        (date(2026, 11, 3), 1, date(2026, 11, 2)),  # the first month exactly
        (date(2026, 11, 4), 2, date(2026, 11, 3)),
        (date(2027, 4, 2), 6, date(2027, 4, 1)),
    ],
)
def test_a_started_month_is_due_in_full(return_date: date, months_due: int, benefit_end: date) -> None:
    returned = return_to_work(LOSS, 6, return_date, return_date, RULES)
    assert (returned.months_due, returned.benefit_end) == (months_due, benefit_end)


def test_notice_is_late_after_eight_days() -> None:
    assert not return_to_work(LOSS, 6, date(2026, 12, 1), date(2026, 12, 9), RULES).late_notice
    assert return_to_work(LOSS, 6, date(2026, 12, 1), date(2026, 12, 10), RULES).late_notice


@pytest.mark.parametrize("return_date", [LOSS, date(2026, 9, 30), date(2027, 4, 3)])
def test_a_return_outside_the_benefit_period_is_refused(return_date: date) -> None:
    with pytest.raises(InvalidReturnToWork):
        return_to_work(LOSS, 6, return_date, return_date, RULES)


def a_claim(filed: date = date(2026, 10, 5)) -> Claim:
    return Claim.submit(
        uuid.uuid4(), affiliation_number="1234567", immatriculation="100000001", cin="BE1", nom="N",
        prenoms="P", job_loss_date=LOSS, motif_code="licenciement", attestation=True,
        filed_at=datetime(filed.year, filed.month, filed.day, 9, tzinfo=UTC), submitted_by="t", channel="http",
    )  # fmt: skip


def valid_decision() -> object:
    history = [MonthlyDeclaration("1234567", m, 26, Decimal("4000")) for m in months_before(LOSS, 36)]
    return decide(ClaimFacts(LOSS, date(2026, 10, 5), "licenciement"), history)


def test_a_waiting_claim_expires_only_after_its_due_date_then_is_decided() -> None:
    claim = a_claim()
    claim.await_declaration(AwaitedDeclaration("1234567", SEPTEMBER, date(2026, 10, 10)))
    with pytest.raises(DomainError):
        claim.await_declaration(AwaitedDeclaration("1234567", SEPTEMBER, date(2026, 10, 10)))
    with pytest.raises(DomainError):
        claim.record_wait_expired(date(2026, 10, 10))
    claim.record_wait_expired(date(2026, 10, 11))
    claim.decide(valid_decision(), "projector")  # type: ignore[arg-type]
    assert claim.awaiting is None and claim.situation == "Valable"
    names = [type(e).__name__ for e in claim.collect_events()]
    assert names == ["Submitted", "AwaitingDeclaration", "DeclarationWaitExpired", "Decided"]


def test_return_to_work_ends_a_valid_claim_once_and_closes_it() -> None:
    claim = a_claim()
    returned = return_to_work(LOSS, 6, date(2026, 12, 1), date(2026, 12, 2), RULES)
    with pytest.raises(InvalidReturnToWork):
        claim.return_to_work(returned, "demo")  # not decided yet
    claim.decide(valid_decision(), "projector")  # type: ignore[arg-type]
    claim.return_to_work(returned, "demo")
    with pytest.raises(InvalidReturnToWork):
        claim.return_to_work(returned, "demo")
    assert claim.is_open_on(date(2026, 11, 30)) and not claim.is_open_on(date(2026, 12, 1))
    rebuilt = None
    for event in claim.collect_events():
        rebuilt = event.mutate(rebuilt)
    assert isinstance(rebuilt, Claim) and rebuilt.returned == claim.returned
