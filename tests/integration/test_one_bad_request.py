"""One bad request never harms another: text that is not Unicode is refused (422) before anything is
stored, whatever the field and route; a submission batch that fails for an unexpected reason is served again
one request at a time, so only the faulty request hears of it; dates at the calendar's edges are refused or
served, never a 500."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx
import psycopg
import pytest
from fastapi.testclient import TestClient
from psycopg_pool import ConnectionPool

from ipe_claims.adapters.accounts import principal_for_token
from ipe_claims.application.claims import ClaimsApplication
from ipe_claims.application.intake import Refusal, Submission
from ipe_claims.domain.claim import InsuredRecord
from ipe_claims.settings import Settings
from services.claim_intake.api import create_app
from services.claim_intake.deps import Bearer, Tokens
from services.claim_intake.errors import status_of
from services.claim_intake.submissions import Submissions
from tests.conftest import CLOCK, Insured, declare, wait_for
from tests.integration.conftest import api_client, served
from tests.integration.test_api import User, claim_body, employer_of, error, user

pytestmark = pytest.mark.integration
LONE = "\ud800"
JSON = {"Content-Type": "application/json"}
# Dates at and beyond the calendar's edges, and some that overflow when a day is added to them.
EDGE_DATES = ["0001-01-01", "0001-01-02", "9999-12-31", "9999-12-30", "0000-01-01", "10000-01-01", "-0001-01-01",
              "2024-02-29", "2023-02-29", "1900-02-29", "2000-02-29", "2014-11-30", "2014-12-01", "9999-13-01",
              "0001-00-01", "+2026-01-01", "2026-1-1", "２０２６-01-01"]  # fmt: skip


@pytest.fixture(scope="module")
def client(settings: Settings, claims_app: ClaimsApplication) -> Iterator[TestClient]:
    with api_client(settings, claims_app) as test_client:
        yield test_client


@pytest.fixture(scope="module")
def employer(client: TestClient, settings: Settings) -> tuple[User, Insured]:
    with psycopg.connect(settings.database.url, autocommit=True) as conn:
        insured = declare(conn, months=40)
        return employer_of(client, conn, insured), insured


@pytest.fixture(scope="module")
def claim_id(client: TestClient, employer: tuple[User, Insured]) -> str:
    who, insured = employer
    created = client.post("/api/v1/claims", json=claim_body(insured), headers=who.headers)
    assert created.status_code == 201, created.text
    return str(created.json()["claim_id"])


def _stored(conn: psycopg.Connection[Any], insured: Insured) -> int:
    found = conn.execute(
        "SELECT count(*) FROM ipe_events WHERE originator_id = %s",
        (InsuredRecord.id_for(insured.immatriculation),),
    ).fetchone()
    assert found is not None
    return int(found[0])


@pytest.mark.parametrize("field", ["affiliation_number", "immatriculation", "job_loss_date", "motif_code"])
def test_a_lone_surrogate_in_any_claim_field_is_refused_before_anything_is_stored(
    client: TestClient, employer: tuple[User, Insured], conn: psycopg.Connection[Any], field: str
) -> None:
    who, insured = employer
    for path in ("/api/v1/claims/preview", "/api/v1/claims"):
        for value in (LONE, f"12{LONE}34", f"{insured.immatriculation}\udfff"):
            body = json.dumps(claim_body(insured, **{field: value}))  # ensure_ascii: "\ud800" as an escape
            assert "\\ud800" in body or "\\udfff" in body
            refused = error(client.post(path, content=body, headers=who.headers | JSON), 422)
            assert (refused["code"], refused["field"]) == ("invalid_text", field)
    raw = json.dumps(claim_body(insured, nom="X"), ensure_ascii=False).replace('"X"', '"\udcff"')
    refused = error(client.post("/api/v1/claims", content=raw.encode(errors="surrogatepass"),
                                headers=who.headers | JSON), 422)  # fmt: skip
    assert (refused["code"], refused["field"]) == ("invalid_text", "nom")  # the bytes of one, not an escape
    assert _stored(conn, insured) == 0


def test_a_lone_surrogate_is_refused_on_every_route_with_a_body_and_in_keys_and_nested_values(
    client: TestClient, employer: tuple[User, Insured]
) -> None:
    who, insured = employer
    cases = [
        ("/api/v1/auth/token", {"username": f"a{LONE}", "password": "x"}, "username"),
        ("/api/v1/auth/token", {"username": "a", "password": f"{LONE}"}, "password"),
        (f"/api/v1/claims/{uuid.uuid4()}/return-to-work", {"return_date": LONE}, "return_date"),
        ("/api/v1/claims", claim_body(insured) | {f"extra{LONE}": 1}, None),
        ("/api/v1/claims", claim_body(insured) | {"extra": [{"deep": ["ok", LONE]}]}, "extra.0.deep.1"),
    ]
    for path, body, field in cases:
        refused = error(client.post(path, content=json.dumps(body), headers=who.headers | JSON), 422)
        assert (refused["code"], refused["field"]) == ("invalid_text", field), (path, refused)
    # A surrogate pair is a character like any other (😀): only a lone one is refused.
    paired = client.post("/api/v1/auth/token", content=json.dumps({"username": "\U0001f600", "password": "x"}),
                         headers=JSON)  # fmt: skip
    assert paired.status_code == 401


class Together(Submissions):
    """Its batches' thread takes its first batch only once two requests wait, so that they share it."""

    gathered = False

    def _next_batch(self) -> list[Any] | None:
        if not self.gathered:
            wait_for(lambda: self._queue.qsize() >= 2 or None, what="both requests")
            self.gathered = True
        return super()._next_batch()


def test_two_employers_in_one_batch_one_with_a_lone_surrogate_the_other_gets_its_201(
    settings: Settings, claims_app: ClaimsApplication, conn: psycopg.Connection[Any]
) -> None:
    """Past the edge (another path into the batch, as the Kafka ingress is): the batch's shared lookup
    cannot encode the bad one's text, so the batch fails; served again one at a time, the good employer's
    claim is created and the bad one is refused, as if each had been alone."""
    good, bad = declare(conn, months=40), declare(conn, months=40)
    with api_client(settings, claims_app) as client:
        employers = [employer_of(client, conn, one) for one in (good, bad)]
    callers = []
    for who in employers:
        token = who.headers["Authorization"].removeprefix("Bearer ")
        callers.append(Bearer(token, principal_for_token(conn, token)))  # type: ignore[arg-type]
    asked = [Submission(good.affiliation_number, good.immatriculation, claim_body(good)["job_loss_date"],
                        "licenciement_economique", True),
             Submission(bad.affiliation_number, bad.immatriculation + LONE, claim_body(bad)["job_loss_date"],
                        "licenciement_economique", True)]  # fmt: skip
    pool: ConnectionPool[Any] = ConnectionPool(settings.database.url, min_size=1, max_size=2, open=True,
                                               kwargs={"autocommit": True})  # fmt: skip
    submissions = Together(claims_app, pool, Tokens(), CLOCK)
    try:

        async def both() -> list[Any]:
            return await asyncio.gather(
                *(
                    submissions.file(bearer, one, uuid.uuid4(), None)
                    for bearer, one in zip(callers, asked, strict=True)
                ),
                return_exceptions=True,
            )

        created, refused = asyncio.run(both())
    finally:
        submissions.close()
        pool.close()
    assert created.status_code == 201, created
    assert isinstance(refused, Refusal) and (status_of(refused), refused.code) == (422, "invalid_text")
    assert (submissions.batches, submissions.served, submissions.split) == (1, 2, 1)  # one batch, split
    assert (_stored(conn, good), _stored(conn, bad)) == (2, 0)  # the good one's record: opened, claim on it


def test_over_http_the_bad_request_gets_422_and_the_other_employer_its_201(
    settings: Settings, claims_app: ClaimsApplication, conn: psycopg.Connection[Any]
) -> None:
    good, bad = declare(conn, months=40), declare(conn, months=40)
    with api_client(settings, claims_app) as client:
        employers = {"good": employer_of(client, conn, good), "bad": employer_of(client, conn, bad)}
    bodies = {"good": json.dumps(claim_body(good)), "bad": json.dumps(claim_body(bad, motif_code=LONE))}
    with served(create_app(settings, claims_app)) as url, httpx.Client(base_url=url, timeout=30) as http:

        def post(kind: str) -> httpx.Response:
            return http.post("/api/v1/claims", content=bodies[kind], headers=employers[kind].headers | JSON)

        with ThreadPoolExecutor(max_workers=2) as threads:
            answers = dict(zip(("good", "bad"), threads.map(post, ("good", "bad")), strict=True))
    assert answers["good"].status_code == 201, answers["good"].text
    assert error(answers["bad"], 422)["code"] == "invalid_text"
    assert _stored(conn, bad) == 0


@pytest.mark.parametrize("day", EDGE_DATES)
def test_dates_at_the_calendars_edges_never_reach_a_500(
    client: TestClient, employer: tuple[User, Insured], claim_id: str, conn: psycopg.Connection[Any], day: str
) -> None:
    """The harness client fails the test on any 5xx; each answer is a refusal with the error body or a page."""
    who, insured = employer
    auditor = user(client, conn, "auditor")
    analyst = user(client, conn, "analyst")
    for path in ("/api/v1/claims/preview", "/api/v1/claims"):  # the insured's open claim: no new one
        answer = client.post(path, json=claim_body(insured, job_loss_date=day), headers=who.headers)
        assert answer.status_code == 200 or answer.json()["error"]["code"], answer.text
    for reader in (who, auditor):
        for params in (
            {"from": day},
            {"to": day},
            {"from": day, "to": day},
            {"from": "0001-01-01", "to": day},
        ):
            answer = client.get("/api/v1/claims", params=params, headers=reader.headers)
            assert answer.status_code in (200, 400), answer.text
            exported = client.get(
                "/api/v1/claims", params=params, headers=reader.headers | {"Accept": "text/csv"}
            )
            assert exported.status_code in (200, 400), exported.text
    for params in ({"date_from": day}, {"date_to": day}, {"date_from": day, "date_to": day}):
        assert client.get("/reports/overview", params=params, headers=analyst.headers).status_code in (
            200,
            400,
        )
    returned = client.post(f"/api/v1/claims/{claim_id}/return-to-work", json={"return_date": day},
                           headers=who.headers)  # fmt: skip
    assert 400 <= returned.status_code < 500 or returned.status_code == 200, returned.text
