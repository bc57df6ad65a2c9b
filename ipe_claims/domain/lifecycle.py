"""What happens to a claim around its decision: waiting for a declaration that is still coming, and the
return to work (reprise d'activité) that ends the benefit early. Pure functions of dated facts."""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from datetime import date, timedelta

from ipe_claims.domain.contributions import months_before
from ipe_claims.domain.errors import DomainError
from ipe_claims.domain.rules import RuleSet, benefit_end


class InvalidReturnToWork(DomainError):
    """A return to work that cannot be recorded; the message says why."""


@dataclass(frozen=True)
class AwaitedDeclaration:
    """The claiming affiliation's declaration for ``month`` is missing but not due before ``due``."""

    affiliation_number: str
    month: date
    due: date


def declaration_due(month: date, deadline_day: int) -> date:
    """Month M is declared by ``deadline_day`` of month M+1."""
    following = date(month.year + month.month // 12, month.month % 12 + 1, 1)
    return following.replace(day=deadline_day)


def awaited_declaration(
    affiliation_number: str,
    job_loss_date: date,
    filed_on: date,
    declared_months: Collection[date],
    ruleset: RuleSet,
) -> AwaitedDeclaration | None:
    """The declaration to wait for before deciding, if any.

    Only the month just before the month of the loss can still be coming; it is awaited when the
    claiming affiliation has not declared it and it was not yet overdue on the filing date. A claim
    filed after the deadline is decided at once: the month then counts as not declared.
    """
    before = months_before(job_loss_date, 1)
    if not before or before[0] in declared_months:  # no month before year 1's January: nothing to await
        return None
    month = before[0]
    due = declaration_due(month, ruleset.declaration_deadline_day)
    return AwaitedDeclaration(affiliation_number, month, due) if filed_on <= due else None


@dataclass(frozen=True)
class ReturnToWork:
    return_date: date
    declared_on: date
    months_due: int
    benefit_end: date  # the last day covered, the day before the return
    late_notice: bool  # declared after the notice period: recorded, it does not cancel the return


def return_to_work(
    job_loss_date: date, duration_months: int, return_date: date, declared_on: date, ruleset: RuleSet
) -> ReturnToWork:
    """End the benefit the day before the return; a started month of entitlement is due in full."""
    full_end = benefit_end(job_loss_date, duration_months)
    if return_date <= job_loss_date:
        raise InvalidReturnToWork("the return to work must come after the job-loss date")
    if return_date > full_end:
        raise InvalidReturnToWork(f"the benefit period already ended on {full_end.isoformat()}")
    if declared_on < return_date - timedelta(days=366):
        raise InvalidReturnToWork("declared more than a year before the return date")
    last_day = return_date - timedelta(days=1)
    months_due = next(k for k in range(duration_months + 1) if benefit_end(job_loss_date, k) >= last_day)
    late = declared_on > return_date + timedelta(days=ruleset.return_notice_days)
    return ReturnToWork(return_date, declared_on, months_due, last_day, late)
