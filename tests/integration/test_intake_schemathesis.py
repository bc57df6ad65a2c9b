"""Property-based run of schemathesis against the live OpenAPI of the intake, as each role (employer,
auditor, analyst, admin): every operation, generated valid and invalid inputs; never a 5xx, and every
response (status, content type, body) conforms to the published spec. Dates (``format: date`` in the
spec) are drawn at and beyond the calendar's edges as often as anywhere else. Sized to stay about a minute.

"Schema-valid data is accepted" is checked too, with the dates generated as the calendar allows them
(tests/schemathesis_hooks.py). What the schema cannot say is what the database holds: whether this
affiliation declared this insured, whether a return to work fits the claim's benefit period. A refusal
naming one of those rules, or a paging cursor the API did not issue (``RULES_OF_STORED_FACTS``), is the only
refusal a schema-valid request may get.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import psycopg
import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from schemathesis.specs.openapi.checks import positive_data_acceptance

from ipe_claims.adapters.accounts import create_account, issue_token
from ipe_claims.application.claims import ClaimsApplication
from ipe_claims.settings import Settings
from tests.conftest import declare, random_digits
from tests.integration.conftest import served_api
from tests.integration.test_one_bad_request import EDGE_DATES
from tests.schemathesis_hooks import CALENDAR  # the calendar's dates for ``format: date``

pytestmark = pytest.mark.integration
RULES_OF_STORED_FACTS = {
    (404, "not_found"),  # an affiliation or a claim the caller does not hold
    (409, "open_claim_exists"),
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
    with served_api(settings.changed(http={"rate_limit_per_minute": 1_000_000}), claims_app) as url:
        yield url


@pytest.fixture(scope="module")
def tokens(settings: Settings) -> dict[str, dict[str, str]]:
    """A logged-in account per role; the employer's affiliation declared an insured."""
    found = {}
    with psycopg.connect(settings.database.url, autocommit=True) as conn:
        insured = declare(conn, months=40)
        for role in ("employer", "auditor", "analyst", "admin"):
            username = f"{role}-{random_digits(9)}"
            create_account(
                conn, username, "schemathesis-pw", role, [insured.affiliation_number] * (role == "employer")
            )
            found[role] = {
                "Authorization": f"Bearer {issue_token(conn, username, 'schemathesis-pw', 3600).token}"
            }
    return found


@pytest.fixture
def calendar_edges() -> Iterator[None]:
    """Dates in the spec drawn from the calendar's edges, beyond them and anywhere between."""
    edges = st.one_of(st.sampled_from(EDGE_DATES), st.dates().map(lambda day: day.isoformat()))
    schemathesis.openapi.format("date", edges)
    yield
    schemathesis.openapi.format("date", CALENDAR)  # back to the calendar's days (tests/schemathesis_hooks.py)


@pytest.mark.parametrize("role", ["employer", "auditor", "analyst", "admin"])
def test_the_api_conforms_to_its_openapi(
    live: str, tokens: dict[str, dict[str, str]], calendar_edges: None, role: str
) -> None:
    api = schemathesis.openapi.from_url(f"{live}/openapi.json")
    operations = [result.ok() for result in api.get_all_operations()]
    assert len(operations) >= 14
    for operation in operations:

        @given(case=operation.as_strategy())
        @settings(max_examples=50 if role == "employer" else 25, deadline=None,
                  suppress_health_check=list(HealthCheck), database=None)  # fmt: skip
        def conforms(case: Any) -> None:
            # Edge dates are schema-valid yet refused by the rules: here only "never a 5xx, always the spec".
            case.call_and_validate(headers=tokens[role], excluded_checks=[positive_data_acceptance])

        conforms()


def test_schema_valid_requests_are_accepted_unless_stored_facts_refuse_them(
    live: str, tokens: dict[str, dict[str, str]]
) -> None:
    """As the employer, with the calendar's dates: a request the schema admits is refused only by a rule of
    what the database holds (``RULES_OF_STORED_FACTS``). Strings hold no NUL: Postgres stores none, and JSON
    Schema cannot say so (the API refuses one with 400 ``invalid_type``, which the first test covers)."""
    api = schemathesis.openapi.from_url(f"{live}/openapi.json")
    api.config.generation.update(allow_x00=False)
    for operation in [result.ok() for result in api.get_all_operations()]:

        @given(case=operation.as_strategy())
        @settings(max_examples=50, deadline=None, suppress_health_check=list(HealthCheck), database=None)
        def accepted(case: Any) -> None:
            response = case.call(headers=tokens["employer"])
            excluded = [positive_data_acceptance] if _refused_by_stored_facts(response) else []
            case.validate_response(response, excluded_checks=excluded)

        accepted()
