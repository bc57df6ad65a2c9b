"""Fakes of the ports the use cases read through, shared by the unit tests of the application layer."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from decimal import Decimal

from ipe_claims.domain.contributions import MonthlyDeclaration, months_before
from ipe_claims.domain.rules import LONG_WINDOW_MONTHS

AFFILIATION = "1234567"


class Seconds:
    """A monotonic clock the test moves by hand (``now`` in seconds), for what takes ``time.monotonic``."""

    def __init__(self, now: float = 1000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


class FakeDeclarations:
    """The ``ContributionHistories`` port over a list of declarations, as the Postgres query reads them."""

    def __init__(self) -> None:
        self.lines: dict[str, list[MonthlyDeclaration]] = {}
        self.asked: list[tuple[str, date]] = []

    def declare(self, immatriculation: str, months: Sequence[date]) -> None:
        self.lines.setdefault(immatriculation, []).extend(
            MonthlyDeclaration(AFFILIATION, month, 26, Decimal("4000")) for month in months
        )

    def histories(self, wanted: Sequence[tuple[str, date]]) -> list[list[MonthlyDeclaration]]:
        self.asked += wanted
        return [self._history(who, loss) for who, loss in wanted]

    def _history(self, immatriculation: str, loss: date) -> list[MonthlyDeclaration]:
        window = set(months_before(loss, LONG_WINDOW_MONTHS))
        lines = [line for line in self.lines.get(immatriculation, []) if line.period in window]
        return sorted(lines, key=lambda line: line.period)
