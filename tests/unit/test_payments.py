"""Monthly payments: from the month after filing, at most six, cut by a return to work, due once the dossier
is complete, and a month's run repeated pays nobody twice."""

import dataclasses
from datetime import date, timedelta
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ipe_claims.domain.contributions import MonthlyDeclaration, months_before
from ipe_claims.domain.errors import DomainError
from ipe_claims.domain.lifecycle import return_to_work
from ipe_claims.domain.payments import (
    CANCELLED,
    DUE,
    ISSUED,
    SCHEDULED,
    InvalidMonth,
    Payment,
    due_for_run,
    month_of,
    parse_month,
    schedule,
    to_centimes,
)
from ipe_claims.domain.rules import RULESETS, ClaimFacts, Decision, decide

LOSS = date(2026, 10, 2)
FILED = date(2026, 10, 5)
MONTHS = ["2026-11", "2026-12", "2027-01", "2027-02", "2027-03", "2027-04"]


def valable(loss: date = LOSS, filed: date = FILED) -> Decision:
    history = [MonthlyDeclaration("1234567", m, 26, Decimal("9000")) for m in months_before(loss, 36)]
    decision = decide(ClaimFacts(loss, filed, "licenciement"), history)
    assert decision.situation == "Valable"
    return decision


DECISION = valable()
AMOUNT = to_centimes(DECISION.monthly_amount or Decimal(0))


def statuses(payments: tuple[Payment, ...]) -> list[str]:
    return [payment.status for payment in payments]


def test_six_payments_from_the_month_after_filing_for_the_monthly_amount() -> None:
    payments = schedule(DECISION, FILED)
    assert [p.month for p in payments] == MONTHS
    assert [p.number for p in payments] == [1, 2, 3, 4, 5, 6]
    assert AMOUNT == 342272  # the SMIG of 2026, 3 422.72, in centimes
    assert all(p.amount_centimes == AMOUNT and p.status == SCHEDULED for p in payments)


def test_a_claim_filed_in_december_is_first_paid_in_january() -> None:
    decision = valable(date(2026, 12, 1), date(2026, 12, 31))
    assert schedule(decision, date(2026, 12, 31))[0].month == "2027-01"


def test_the_number_of_payments_is_the_decisions_duration() -> None:
    assert len(schedule(dataclasses.replace(DECISION, duration_months=4), FILED)) == 4


def test_a_rejected_claim_has_no_payments() -> None:
    rejected = decide(ClaimFacts(LOSS, FILED, "demission"), [])
    assert schedule(rejected, FILED) == ()
    assert due_for_run(rejected, FILED, "2026-12", dossier_completed_on=FILED) == ()


def test_a_month_is_due_in_its_run_once_the_dossier_is_complete() -> None:
    payments = schedule(DECISION, FILED, dossier_completed_on=date(2026, 10, 20), run_month="2026-11")
    assert statuses(payments) == [DUE] + [SCHEDULED] * 5


def test_nothing_is_due_while_the_dossier_is_incomplete() -> None:
    assert due_for_run(DECISION, FILED, "2027-02") == ()


def test_months_that_passed_while_the_dossier_was_incomplete_are_paid_with_the_next_run() -> None:
    completed = date(2027, 1, 15)
    assert due_for_run(DECISION, FILED, "2026-12", dossier_completed_on=completed) == ()
    due = due_for_run(DECISION, FILED, "2027-01", dossier_completed_on=completed)
    assert [p.month for p in due] == ["2026-11", "2026-12", "2027-01"]


def test_a_return_to_work_cancels_the_months_not_started_and_pays_a_started_one_in_full() -> None:
    # Entitlement month k runs from the 3rd: back on 10 Jan, months 1-4 have started (the 4th on 3 Jan).
    returned = return_to_work(LOSS, 6, date(2027, 1, 10), date(2027, 1, 12), RULESETS[0])
    assert returned.months_due == 4
    payments = schedule(DECISION, FILED, returned, date(2026, 10, 20), "2027-01", issued=MONTHS[:2])
    assert statuses(payments) == [ISSUED, ISSUED, DUE, SCHEDULED, CANCELLED, CANCELLED]


def test_a_return_the_day_after_the_loss_cancels_every_payment() -> None:
    returned = return_to_work(LOSS, 6, date(2026, 10, 3), date(2026, 10, 3), RULESETS[0])
    assert statuses(schedule(DECISION, FILED, returned)) == [CANCELLED] * 6


def test_a_payment_issued_before_a_late_declared_return_stays_issued() -> None:
    returned = return_to_work(LOSS, 6, date(2026, 10, 20), date(2027, 1, 5), RULESETS[0])
    assert returned.months_due == 1 and returned.late_notice
    payments = schedule(DECISION, FILED, returned, FILED, "2027-01", issued=MONTHS[:2])
    assert statuses(payments) == [ISSUED, ISSUED, CANCELLED, CANCELLED, CANCELLED, CANCELLED]


def test_a_run_repeated_after_its_payments_were_recorded_pays_nobody_twice() -> None:
    first = due_for_run(DECISION, FILED, "2026-12", dossier_completed_on=FILED)
    assert [p.month for p in first] == ["2026-11", "2026-12"]
    issued = [p.month for p in first]
    assert due_for_run(DECISION, FILED, "2026-12", dossier_completed_on=FILED, issued=issued) == ()


@pytest.mark.parametrize("text", ["2026-13", "2026-00", "2026-1", "26-01", "2026/01", " 2026-01", ""])
def test_a_run_month_is_written_yyyy_mm(text: str) -> None:
    with pytest.raises(InvalidMonth):
        parse_month(text)
    with pytest.raises(InvalidMonth):
        schedule(DECISION, FILED, run_month=text)
    assert issubclass(InvalidMonth, DomainError)


def test_month_helpers_and_centimes() -> None:
    assert parse_month("2027-01") == "2027-01" and month_of(date(2027, 1, 31)) == "2027-01"
    assert to_centimes(Decimal("2970.05")) == 297005 and to_centimes(Decimal("1152.9")) == 115290
    with pytest.raises(DomainError):
        to_centimes(Decimal("1.005"))
    with pytest.raises(DomainError):
        to_centimes(Decimal("-1"))


@given(
    filed_delay=st.integers(0, 60),
    completed_delay=st.one_of(st.none(), st.integers(0, 400)),
    return_after=st.one_of(st.none(), st.integers(1, 200)),
)
def test_monthly_runs_pay_each_kept_month_exactly_once_and_never_before_its_month_or_the_dossier(
    filed_delay: int, completed_delay: int | None, return_after: int | None
) -> None:
    filed = LOSS + timedelta(days=filed_delay)
    completed = None if completed_delay is None else filed + timedelta(days=completed_delay)
    returned = None
    if return_after is not None and return_after <= 180:
        returned = return_to_work(LOSS, 6, LOSS + timedelta(days=return_after), filed, RULESETS[0])
    kept = 6 if returned is None else returned.months_due
    issued: dict[str, str] = {}
    run = filed.replace(day=1)
    for _ in range(24):  # a run every month for two years, each recording what it issued
        run_month = month_of(run)
        for payment in due_for_run(DECISION, filed, run_month, returned, completed, issued):
            assert payment.month not in issued
            assert payment.month <= run_month and completed is not None and month_of(completed) <= run_month
            issued[payment.month] = run_month
        run = (run + timedelta(days=32)).replace(day=1)
    payments = schedule(DECISION, filed, returned, completed, month_of(run), issued)
    # Two years of runs outlast the schedule and a completion within 400 days: all kept months are paid.
    assert len(issued) == (0 if completed is None else kept)
    assert statuses(payments).count(ISSUED) == len(issued)
    assert statuses(payments).count(CANCELLED) == 6 - kept
    assert sum(p.amount_centimes for p in payments if p.status == ISSUED) == len(issued) * AMOUNT
