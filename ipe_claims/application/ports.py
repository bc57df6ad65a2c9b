"""What the application services need from the world, as ``typing.Protocol`` ports: adapters
(``ipe_claims/adapters``, the processes' own) implement them; unit tests pass in-memory fakes.

One section per use case; a port shared by two is declared in the first and imported by name.
"""

from __future__ import annotations

import uuid
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any, Protocol

from ipe_claims.application.clock import Clock
from ipe_claims.application.intake import Declared, Refusal
from ipe_claims.domain.claim import Claim, InsuredRecord
from ipe_claims.domain.contributions import MonthlyDeclaration

# ---------------------------------------------------------------------------------------------------------
# filing: a submission becomes a claim (``filing.py``)
# ---------------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Submitter:
    """Who files, as the accounts say now: the affiliations they hold are those they may file for."""

    username: str
    role: str
    affiliations: frozenset[str]


class ClaimsStore(Protocol):
    """The event store of claims and insured records (``ClaimsApplication``)."""

    def get_many(self, ids: Collection[uuid.UUID]) -> Mapping[uuid.UUID, Any]:
        """The aggregates among ``ids`` that exist (claims, and insured records by ``InsuredRecord.id_for``)."""
        ...

    def first_version(self, claim_id: uuid.UUID) -> Claim:
        """The claim as it was submitted (version 1)."""
        ...

    def save_once(self, *aggregates: Claim | InsuredRecord) -> bool:
        """Save in one transaction; False when another writer changed one of them first."""
        ...


class DeclarationsReader(Protocol):
    """The employers' declarations of their insured."""

    def declared(self, pairs: Sequence[tuple[str, str]]) -> list[Declared | None]:
        """For each (immatriculation, affiliation_number), the insured as that affiliation declared them;
        None when it never declared them."""
        ...


class Accounts(Protocol):
    """Who stands behind a caller (a bearer token, a portal's topic), read again at each filing."""

    def submitters(self, callers: Collection[str]) -> Mapping[str, Submitter | Refusal]:
        """Each caller's submitter, or why they may not file (an expired token, a role that may not)."""
        ...


# ---------------------------------------------------------------------------------------------------------
# decide: a submitted claim is settled by the rules (``deciding.py``)
# ---------------------------------------------------------------------------------------------------------


class ClaimsToDecide(Protocol):
    """The claims' event store (``ClaimsApplication``, on Postgres or in memory)."""

    def get_many(self, ids: Collection[uuid.UUID]) -> Mapping[uuid.UUID, Any]:
        """The aggregates among ``ids`` that exist, by id (one query for a whole poll)."""
        ...

    def save(self, *aggregates: Claim) -> object:
        """Their new events in one transaction; raises the store's IntegrityError when another writer
        appended to one of them first (the caller's retry finds the winner's events)."""
        ...


class ContributionHistories(Protocol):
    """The contribution history the rules read (``adapters.declarations.DeclarationsOnConnection``)."""

    def histories(self, wanted: Sequence[tuple[str, date]]) -> list[list[MonthlyDeclaration]]:
        """For each (immatriculation, job-loss date), in order: every affiliation's declarations of the
        insured for the 36 months before the month of the loss."""
        ...


__all__ = [
    "Accounts",
    "ClaimsStore",
    "ClaimsToDecide",
    "Clock",
    "ContributionHistories",
    "DeclarationsReader",
    "Submitter",
]
