"""The ports of the application layer: what its use cases need from the world, as ``typing.Protocol``s.

Adapters implement them (Postgres, Kafka, the eventsourcing store); unit tests pass the library's
in-memory application and small fakes. Each use case keeps its ports in a section of its own.
"""

from __future__ import annotations

import uuid
from collections.abc import Collection, Mapping, Sequence
from datetime import date
from typing import Any, Protocol

from ipe_claims.domain.claim import Claim
from ipe_claims.domain.contributions import MonthlyDeclaration

# --- decide (application/deciding.py) ---------------------------------------------------------------


class ClaimsStore(Protocol):
    """The claims' event store (``ClaimsApplication``, on Postgres or in memory)."""

    def get_many(self, ids: Collection[uuid.UUID]) -> Mapping[uuid.UUID, Any]:
        """The aggregates among ``ids`` that exist, by id (one query for a whole poll)."""
        ...

    def save(self, *aggregates: Claim) -> object:
        """Their new events in one transaction; raises the store's IntegrityError when another writer
        appended to one of them first (the caller's retry finds the winner's events)."""
        ...


class DeclarationsReader(Protocol):
    """The contribution history the rules read (``adapters.declarations.DeclarationsOnConnection``)."""

    def histories(self, wanted: Sequence[tuple[str, date]]) -> list[list[MonthlyDeclaration]]:
        """For each (immatriculation, job-loss date), in order: every affiliation's declarations of the
        insured for the 36 months before the month of the loss."""
        ...


# --- end of decide ---------------------------------------------------------------------------------
