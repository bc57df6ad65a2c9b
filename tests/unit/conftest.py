"""Fixtures the unit tests of the use cases share: the claims application on the library's in-memory event
store, and a fake declarations reader."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from ipe_claims.application.claims import ClaimsApplication
from tests.unit.claim_life import in_memory_app
from tests.unit.fakes import FakeDeclarations


@pytest.fixture
def app() -> Iterator[ClaimsApplication]:
    """The claims application on ``eventsourcing.popo``, closed after the test."""
    with in_memory_app() as claims:
        yield claims


@pytest.fixture
def store(app: ClaimsApplication) -> ClaimsApplication:
    """The same application, under the name the use cases' ports give it (the claims store)."""
    return app


@pytest.fixture
def declarations() -> FakeDeclarations:
    """Declarations no test made yet: each test declares the months its insured worked."""
    return FakeDeclarations()
