"""Who may call what: every intake endpoint against every role, plus a caller without a token.

An employer acts only on its own affiliations; another employer's affiliation or claim answers 404,
never 403, so nothing can be enumerated. Roles without a use for an endpoint get 403; per-claim routes
answer them 404 like any claim they may not see."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import psycopg
import pytest
from fastapi.testclient import TestClient

from ipe_claims.application.claims import ClaimsApplication
from ipe_claims.settings import Settings
from tests.conftest import TODAY, Insured, declare
from tests.integration.conftest import Pipeline, api_client
from tests.integration.test_api import User, claim_body, decided, employer_of, submit, user

pytestmark = pytest.mark.integration
RETURN_DATE = (TODAY + timedelta(days=40)).isoformat()

ROLES = ("owner", "other_employer", "auditor", "agent", "analyst", "admin", "portal", "anonymous")
ENDPOINTS = ("motifs", "affiliations", "insured", "preview", "submit", "list", "export", "claim", "decision",
             "events", "notifications", "return_to_work")  # fmt: skip
# Status by endpoint, in the order of ROLES.
EXPECTED = {
    "motifs":       (200, 200, 200, 200, 200, 200, 200, 200),
    "affiliations": (200, 200, 403, 403, 403, 403, 403, 401),
    "insured":      (200, 404, 403, 403, 403, 403, 403, 401),
    "preview":      (200, 404, 403, 403, 403, 403, 403, 401),
    "submit":       (201, 404, 403, 403, 403, 403, 403, 401),
    "list":         (200, 200, 200, 200, 403, 403, 403, 401),
    "export":       (200, 200, 200, 200, 403, 403, 403, 401),
    "claim":        (200, 404, 200, 200, 404, 404, 404, 401),
    "decision":     (200, 404, 200, 200, 404, 404, 404, 401),
    "events":       (200, 404, 200, 200, 404, 404, 404, 401),
    "notifications": (200, 404, 200, 200, 404, 404, 404, 401),
    # Admins have no claim access over HTTP (docs/security.md): a caseworker uses `ipe claims return-to-work`.
    # Agents read every claim (they instruct them); the return to work is the employer's declaration.
    "return_to_work": (200, 404, 403, 403, 403, 403, 403, 401),
}  # fmt: skip


@dataclass(frozen=True)
class Cast:
    users: dict[str, User]
    insured: Insured
    spare: Insured  # not yet claimed: what each role tries to submit for
    claim_id: str


@pytest.fixture(scope="module")
def client(settings: Settings, claims_app: ClaimsApplication) -> Iterator[TestClient]:
    with api_client(settings, claims_app) as test_client:
        yield test_client


@pytest.fixture(scope="module")
def cast(pipeline: Pipeline, client: TestClient, settings: Settings) -> Cast:
    with psycopg.connect(settings.database.url, autocommit=True) as conn:
        insured = declare(conn, months=40)
        spare = declare(conn, months=40, affiliation_number=insured.affiliation_number)
        owner = employer_of(client, conn, insured)
        users = {"owner": owner, "other_employer": employer_of(client, conn, declare(conn, months=12)),
                 "anonymous": User("anonymous", {})}  # fmt: skip
        users |= {
            role: user(client, conn, role) for role in ("auditor", "agent", "analyst", "admin", "portal")
        }
    claim_id = submit(client, owner, insured)
    decided(client, owner, claim_id)
    return Cast(users, insured, spare, claim_id)


def call(client: TestClient, cast: Cast, endpoint: str, headers: dict[str, str]) -> Any:
    affiliation = cast.insured.affiliation_number
    return {
        "motifs": lambda: client.get("/api/v1/motifs", headers=headers),
        "affiliations": lambda: client.get("/api/v1/affiliations", headers=headers),
        "insured": lambda: client.get(f"/api/v1/affiliations/{affiliation}/insured", headers=headers),
        "preview": lambda: client.post(
            "/api/v1/claims/preview", json=claim_body(cast.spare), headers=headers
        ),
        "submit": lambda: client.post("/api/v1/claims", json=claim_body(cast.spare), headers=headers),
        "list": lambda: client.get("/api/v1/claims", headers=headers),
        "export": lambda: client.get("/api/v1/claims", headers={**headers, "Accept": "text/csv"}),
        "claim": lambda: client.get(f"/api/v1/claims/{cast.claim_id}", headers=headers),
        "decision": lambda: client.get(f"/api/v1/claims/{cast.claim_id}/decision", headers=headers),
        "events": lambda: client.get(f"/api/v1/claims/{cast.claim_id}/events", headers=headers),
        "notifications": lambda: client.get(f"/api/v1/claims/{cast.claim_id}/notifications", headers=headers),
        "return_to_work": lambda: client.post(  # the same date again is the same answer: a retry
            f"/api/v1/claims/{cast.claim_id}/return-to-work",
            json={"return_date": RETURN_DATE},
            headers=headers,
        ),
    }[endpoint]()


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize("endpoint", ENDPOINTS)
def test_who_may_call_what(client: TestClient, cast: Cast, endpoint: str, role: str) -> None:
    response = call(client, cast, endpoint, cast.users[role].headers)
    expected = EXPECTED[endpoint][ROLES.index(role)]
    assert response.status_code == expected, response.text
    if expected >= 400:
        code = {401: "unauthorized", 403: "forbidden", 404: "not_found"}[expected]
        assert response.json()["error"]["code"] == code
    if endpoint in ("list", "export") and role in ("owner", "other_employer"):
        assert (cast.claim_id in response.text) == (role == "owner")


def test_an_auditor_finds_any_claim_by_filters(client: TestClient, cast: Cast) -> None:
    response = client.get("/api/v1/claims", params={"immatriculation": cast.insured.immatriculation},
                          headers=cast.users["auditor"].headers)  # fmt: skip
    assert [item["claim_id"] for item in response.json()["items"]] == [cast.claim_id]
    other = client.get("/api/v1/claims", params={"immatriculation": cast.insured.immatriculation},
                       headers=cast.users["other_employer"].headers)  # fmt: skip
    assert other.json() == {"items": [], "next_cursor": None}
