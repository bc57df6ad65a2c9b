"""Property-based run of schemathesis against the live OpenAPI of the intake, as an authenticated
employer: every operation, generated valid and invalid inputs; never a 5xx, and every response
(status, content type, body) conforms to the published spec. Sized to stay well under a minute.

"Schema-valid data is accepted" is checked too, with the dates generated as the calendar allows them
(tests/schemathesis_hooks.py). What the schema cannot say is what the database holds: whether this
affiliation declared this insured, whether a return to work fits the claim's benefit period. A refusal
naming one of those rules, or a paging cursor the API did not issue (``RULES_OF_STORED_FACTS``), is the only
refusal a schema-valid request may get.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from typing import Any

import psycopg
import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.specs.openapi.checks import positive_data_acceptance

import tests.schemathesis_hooks  # noqa: F401  (the calendar's dates for ``format: date``)
from ipe_claims.adapters.accounts import create_account, issue_token
from ipe_claims.application import ClaimsApplication
from ipe_claims.settings import Settings
from tests.conftest import declare, random_digits
from tests.integration.conftest import served_api

pytestmark = pytest.mark.integration
RULES_OF_STORED_FACTS = {
    (422, "insured_not_declared"),
    (422, "invalid_return_to_work"),
    (400, "invalid_cursor"),
}


def _refused_by_stored_facts(response: Any) -> bool:
    if response.status_code not in (400, 422):
        return False
    return (response.status_code, response.json()["error"]["code"]) in RULES_OF_STORED_FACTS


@pytest.fixture(scope="module")
def live(settings: Settings, claims_app: ClaimsApplication) -> Iterator[str]:
    with served_api(replace(settings, rate_limit_per_minute=1_000_000), claims_app) as url:
        yield url


@pytest.fixture(scope="module")
def employer(settings: Settings) -> dict[str, str]:
    with psycopg.connect(settings.database_url, autocommit=True) as conn:
        insured = declare(conn, months=40)
        username = f"employer-{random_digits(9)}"
        create_account(conn, username, "schemathesis-pw", "employer", [insured.affiliation_number])
        token = issue_token(conn, username, "schemathesis-pw", 3600).token
    return {"Authorization": f"Bearer {token}"}


def test_the_api_conforms_to_its_openapi(live: str, employer: dict[str, str]) -> None:
    api = schemathesis.openapi.from_url(f"{live}/openapi.json")
    operations = [result.ok() for result in api.get_all_operations()]
    assert len(operations) >= 8
    for operation in operations:

        @given(case=operation.as_strategy())
        @settings(max_examples=50, deadline=None, suppress_health_check=list(HealthCheck), database=None)
        def conforms(case: Any) -> None:
            response = case.call(headers=employer)
            excluded = [positive_data_acceptance] if _refused_by_stored_facts(response) else []
            case.validate_response(response, excluded_checks=excluded)

        conforms()
