"""The contribution history as the rules read it: per calendar month, across all affiliations.

An insured may be declared by several employers in the same month; the CNSS counts at most
`max_days_per_month` days and contributes on at most `salary_ceiling` per month, so both caps are
applied after summing the month's declarations. The caps are parameters of the ruleset.
"""

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from ipe_claims.domain.errors import InvalidDeclaration


@dataclass(frozen=True)
class MonthlyDeclaration:
    """What one employer (affiliation) declared for the insured for one month."""

    affiliation_number: str
    period: date  # first day of the month
    days: int
    salary: Decimal

    def __post_init__(self) -> None:
        if self.period.day != 1:
            raise InvalidDeclaration(f"period must be the first day of a month: {self.period}")
        if self.days < 0 or self.salary < 0:
            raise InvalidDeclaration(f"negative days or salary for {self.period}: {self.days}, {self.salary}")


def days_by_month(declarations: Iterable[MonthlyDeclaration], *, max_days_per_month: int) -> dict[date, int]:
    """Declared days per month, summed across affiliations, then capped."""
    totals: defaultdict[date, int] = defaultdict(int)
    for declaration in declarations:
        totals[declaration.period] += declaration.days
    return {month: min(days, max_days_per_month) for month, days in totals.items()}


def salary_by_month(
    declarations: Iterable[MonthlyDeclaration], *, salary_ceiling: Decimal
) -> dict[date, Decimal]:
    """Declared salary per month, summed across affiliations, then capped at the contribution ceiling."""
    totals: defaultdict[date, Decimal] = defaultdict(Decimal)
    for declaration in declarations:
        totals[declaration.period] += declaration.salary
    return {month: min(salary, salary_ceiling) for month, salary in totals.items()}


def months_before(month: date, n: int) -> list[date]:
    """The n complete calendar months before the month of `month`, oldest first (first days of month).

    The month of `month` itself is excluded: it is not complete at that date. Months before the calendar's
    first (January of year 1) do not exist and are left out: a claim filed before intake refused losses
    before the scheme (one in year 1) is then judged, and rejected, instead of raising on every try.
    """
    if n < 0:
        raise ValueError(f"n must not be negative: {n}")
    current = month.year * 12 + month.month - 1
    return [date(index // 12, index % 12 + 1, 1) for index in range(max(current - n, 12), current)]
