"""The monthly payments of a Valable claim: which months, how much, and which a payment run issues.

- Paid monthly "à partir du premier mois suivant celui du dépôt de la demande" (the article, seed 001):
  payment k falls in the k-th month after the month of filing, at most the decision's duration (6) times.
- Payment k pays entitlement month k, which runs from the day after the loss [S2]. A return to work keeps
  the payments of the entitlement months started before it, each in full, and cancels the others: the
  ``months_due`` the return recorded (lifecycle.py; the sources say nothing of proration, ipe_rules.md §7.6,
  and a started month paid in full never underpays).
- A payment is due in the run of its month, or of the first later month, once the dossier is complete:
  months that passed while it was not are paid together with the next run.
Amounts are whole centimes, the monthly amount the decision fixed at the loss date.
"""

from __future__ import annotations

import re
from collections.abc import Collection
from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from ipe_claims.domain.errors import CodedError, DomainError
from ipe_claims.domain.lifecycle import ReturnToWork
from ipe_claims.domain.rules import VALABLE, Decision

SCHEDULED, DUE, ISSUED, CANCELLED = "scheduled", "due", "issued", "cancelled"
_MONTH = re.compile(r"(\d{4})-(0[1-9]|1[0-2])")


# InvalidPayment codes
CLAIM_NOT_VALABLE = "claim_not_valable"
ALREADY_SCHEDULED = "payments_already_scheduled"
NOTHING_TO_SCHEDULE = "nothing_to_schedule"
NOT_SCHEDULED = "payment_not_scheduled"
ALREADY_ISSUED = "payment_already_issued"
PAYMENT_CANCELLED = "payment_cancelled"
RIB_NOT_VERIFIED = "rib_not_verified"
FILE_ID_REQUIRED = "file_id_required"
NOTHING_TO_CANCEL = "nothing_to_cancel"


class InvalidMonth(DomainError):
    """A month that is not written YYYY-MM."""


class InvalidPayment(CodedError):
    """A payment the claim cannot schedule, issue or cancel; ``code`` says why."""


@dataclass(frozen=True)
class Payment:
    number: int  # 1 for the first payment of the claim
    month: str  # YYYY-MM, the month of the run that issues it
    amount_centimes: int
    status: str


def month_of(day: date) -> str:
    return f"{day.year:04d}-{day.month:02d}"


def parse_month(text: str) -> str:
    """``text`` if it is a month written YYYY-MM, else InvalidMonth."""
    if not _MONTH.fullmatch(text):
        raise InvalidMonth(f"a month is written YYYY-MM: {text!r}")
    return text


def _month_after(day: date, months: int) -> str:
    index = day.year * 12 + day.month - 1 + months
    return f"{index // 12:04d}-{index % 12 + 1:02d}"


def to_centimes(amount: Decimal) -> int:
    """The amount in whole centimes; an amount with a fraction of a centime is a bug upstream."""
    centimes = amount * 100
    if centimes != centimes.to_integral_value() or amount < 0:
        raise DomainError(f"a monthly amount is a non-negative number of centimes: {amount}")
    return int(centimes)


def schedule(
    decision: Decision,
    filed_on: date,
    returned: ReturnToWork | None = None,
    dossier_completed_on: date | None = None,
    run_month: str | None = None,
    issued: Collection[str] = (),
) -> tuple[Payment, ...]:
    """Every payment of the claim, with its status as of ``run_month`` (None: before any run).

    ``issued`` are the months already paid: they stay issued even if a return declared late cancels
    them (what was paid was paid; recovering it is the fund's business, not the schedule's).
    A rejected claim has no payments.
    """
    if decision.situation != VALABLE or decision.monthly_amount is None or decision.duration_months is None:
        return ()
    if run_month is not None:
        parse_month(run_month)
    amount = to_centimes(decision.monthly_amount)
    kept = (
        decision.duration_months if returned is None else min(returned.months_due, decision.duration_months)
    )
    payable_from = month_of(dossier_completed_on) if dossier_completed_on is not None else None
    payments = []
    for number in range(1, decision.duration_months + 1):
        month = _month_after(filed_on, number)
        if month in issued:
            status = ISSUED
        elif number > kept:
            status = CANCELLED
        elif run_month is not None and payable_from is not None and max(month, payable_from) <= run_month:
            status = DUE
        else:
            status = SCHEDULED
        payments.append(Payment(number, month, amount, status))
    return tuple(payments)


def due_for_run(
    decision: Decision,
    filed_on: date,
    run_month: str,
    returned: ReturnToWork | None = None,
    dossier_completed_on: date | None = None,
    issued: Collection[str] = (),
) -> tuple[Payment, ...]:
    """What the run of ``run_month`` issues for this claim: due and not issued yet, so a run repeated
    after its payments were recorded as issued pays nobody twice."""
    payments = schedule(decision, filed_on, returned, dossier_completed_on, run_month, issued)
    return tuple(payment for payment in payments if payment.status == DUE)
