"""The dated SMIG table (industry, commerce, liberal professions): the cap of the monthly IPE.

Dated so that a replay years later caps with the figure in force at the job-loss date.
Figures are gross: monthly = 191 hours × hourly rate (docs/rules.md, ipe_rules.md §4).
"""

from bisect import bisect_right
from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from ipe_claims.domain.errors import SmigNotInForce

HOURS_PER_MONTH = 191
CENTIME = Decimal("0.01")


@dataclass(frozen=True)
class SmigRate:
    effective_from: date
    hourly: Decimal
    source: str

    @property
    def monthly(self) -> Decimal:
        return (self.hourly * HOURS_PER_MONTH).quantize(CENTIME)


SMIG_TABLE: tuple[SmigRate, ...] = (
    SmigRate(date(2012, 7, 1), Decimal("12.24"), "Décret publié au BO du 11/07/2011, 2e tranche [S20]"),
    SmigRate(date(2014, 7, 1), Decimal("12.85"), "Décret n° 2-14-343, BO du 10/07/2014 [S21]"),
    SmigRate(date(2015, 7, 1), Decimal("13.46"), "Décret n° 2-14-343, 2e tranche [S21]"),
    SmigRate(date(2019, 7, 1), Decimal("14.13"), "Décret n° 2-19-424, BO du 27/06/2019 [S22]"),
    SmigRate(date(2020, 7, 1), Decimal("14.81"), "Décret n° 2-19-424, 2e tranche [S22][S19]"),
    SmigRate(date(2022, 9, 1), Decimal("15.55"), "Décret n° 2-22-606, BO n° 7125 du 12/09/2022 [S23][S24]"),
    SmigRate(date(2023, 9, 1), Decimal("16.29"), "Accord social du 30/04/2022, 2e tranche [S24][S25]"),
    SmigRate(date(2025, 1, 1), Decimal("17.10"), "Décret n° 2-24-1122 [S26][S27]"),
    SmigRate(date(2026, 1, 1), Decimal("17.92"), "Décret n° 2-25-983 [S28][S29]"),
)


def smig_rate(at: date) -> SmigRate:
    """The table entry in force on `at` (its effective date included)."""
    index = bisect_right([rate.effective_from for rate in SMIG_TABLE], at)
    if index == 0:
        raise SmigNotInForce(f"no SMIG known before {SMIG_TABLE[0].effective_from.isoformat()}: {at}")
    return SMIG_TABLE[index - 1]


def smig_monthly(at: date) -> Decimal:
    """The gross monthly SMIG in force on `at`, to the centime."""
    return smig_rate(at).monthly
