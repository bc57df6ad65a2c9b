"""The claim submission's fast path keeps every promise of the slow one: a remembered token is read again
with the submission's lookups (a disabled account or an expired token is refused at once), the rate
limit's leases never let an account past its limit, and every 201 of a shared transaction has its
access-log row."""

from __future__ import annotations

import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime
from typing import Any

import httpx
import psycopg
import pytest
from fastapi.testclient import TestClient

from ipe_claims.adapters.accounts import set_disabled
from ipe_claims.application.claims import ClaimsApplication
from ipe_claims.settings import Settings
from services.claim_intake import access_log
from services.claim_intake.api import create_app
from services.claim_intake.limits import Limiter
from tests.conftest import declare, random_digits
from tests.integration.conftest import api_client, served_api
from tests.integration.test_api import claim_body, employer_of, error, submit

pytestmark = pytest.mark.integration


def _inside_one_minute() -> None:
    """Rate windows are Postgres minutes: start well inside one."""
    if datetime.now().second >= 55:
        time.sleep(60 - datetime.now().second)


def test_a_remembered_token_is_refused_as_soon_as_its_account_is_disabled_or_it_expires(
    settings: Settings, claims_app: ClaimsApplication, conn: psycopg.Connection[Any]
) -> None:
    with api_client(settings, claims_app) as client:
        first, second, third = (declare(conn, months=40) for _ in range(3))
        employer = employer_of(client, conn, first, second, third)
        submit(client, employer, first)
        token = employer.headers["Authorization"].split()[1]
        assert client.app.state.tokens.get(token) is not None  # type: ignore[attr-defined]
        conn.execute("UPDATE api_tokens SET expires_at = now() - interval '1 second' WHERE username = %s",
                     (employer.username,))  # fmt: skip
        expired = client.post("/api/v1/claims", json=claim_body(second), headers=employer.headers)
        assert error(expired, 401)["code"] == "unauthorized"

        other = employer_of(client, conn, third)
        submit(client, other, third)
        set_disabled(conn, other.username, True)
        refused = client.post("/api/v1/claims", json=claim_body(second), headers=other.headers)
        assert error(refused, 401)["code"] == "unauthorized"
        rows = conn.execute(
            "SELECT count(*) FROM access_log WHERE username = ANY(%s) AND action = 'claim.submit'",
            ([employer.username, other.username],),
        ).fetchone()
        assert rows[0] == 2  # the two 201s, nothing for the refusals


def test_the_limit_holds_for_the_submission_too(
    settings: Settings, claims_app: ClaimsApplication, conn: psycopg.Connection[Any]
) -> None:
    _inside_one_minute()
    with TestClient(create_app(settings.changed(http={"rate_limit_per_minute": 3}), claims_app)) as limited:
        insured = [declare(conn, months=40) for _ in range(3)]
        employer = employer_of(limited, conn, *insured)  # logging in is not counted
        for one in insured:
            assert (
                limited.post("/api/v1/claims", json=claim_body(one), headers=employer.headers).status_code
                == 201
            )
        refused = limited.post("/api/v1/claims", json=claim_body(insured[0]), headers=employer.headers)
        assert error(refused, 429)["code"] == "rate_limited"
        assert 1 <= int(refused.headers["Retry-After"]) <= 60


def test_leases_count_exactly_in_one_process_and_never_past_the_limit_across_two(
    conn: psycopg.Connection[Any],
) -> None:
    _inside_one_minute()
    alone = f"lease-{random_digits(9)}"
    limiter = Limiter(per_minute=200)
    assert limiter.max_lease == 10
    assert [limiter.count(conn, alone) for _ in range(200)] == [0] * 200
    assert 1 <= limiter.count(conn, alone) <= 60
    assert limiter.count_locally(alone) not in (None, 0)  # refused without asking Postgres again

    shared = f"lease-{random_digits(9)}"
    first, second = Limiter(per_minute=200), Limiter(per_minute=200)  # two api processes
    served = 0
    for n in range(600):
        served += (first if n % 3 else second).count(conn, shared) == 0
    assert 200 - 2 * first.max_lease <= served <= 200
    stored = conn.execute(
        "SELECT requests FROM rate_windows WHERE username = %s ORDER BY window_start DESC LIMIT 1", (shared,)
    ).fetchone()
    assert stored[0] >= served


def test_every_201_of_a_shared_transaction_has_its_access_log_row(
    settings: Settings, claims_app: ClaimsApplication, conn: psycopg.Connection[Any]
) -> None:
    insured = [declare(conn, months=40) for _ in range(24)]
    with api_client(settings, claims_app) as client:
        employer = employer_of(client, conn, *insured)
    retried = insured[-1]
    key = f"retry-{uuid.uuid4()}"
    requests = [(one, None) for one in insured[:-1]] + [(retried, key)] * 6

    with served_api(settings, claims_app) as url, httpx.Client(base_url=url, timeout=60) as http:

        def post(request: tuple[Any, str | None]) -> httpx.Response:
            one, idempotency_key = request
            headers = {
                **employer.headers,
                **({"Idempotency-Key": idempotency_key} if idempotency_key else {}),
            }
            return http.post("/api/v1/claims", json=claim_body(one), headers=headers)

        with ThreadPoolExecutor(max_workers=12) as pool:
            answers = list(pool.map(post, requests))

    assert [answer.status_code for answer in answers] == [201] * len(requests)
    logged = conn.execute(
        "SELECT claim_id::text, request_id, immatriculation FROM access_log WHERE username = %s "
        "AND action = 'claim.submit'",
        (employer.username,),
    ).fetchall()
    assert sorted(row[1] for row in logged) == sorted(a.headers["X-Request-ID"] for a in answers)
    assert {(row[0], row[2]) for row in logged} == {
        (answer.json()["claim_id"], answer.json()["immatriculation"]) for answer in answers
    }
    assert len({answer.json()["claim_id"] for answer in answers}) == len(insured)


def test_access_log_rows_go_in_one_statement(conn: psycopg.Connection[Any]) -> None:
    username = f"auditor-{random_digits(9)}"
    claim_ids = [uuid.uuid4() for _ in range(3)]
    # The last columns are the host, which only reads from the command line have, and an agent's agency.
    rows = [(username, "auditor", "claim.read", str(c), "1234567", "100000001", f"r{n}", None, None) for n, c in
            enumerate(claim_ids)]  # fmt: skip
    access_log.insert(conn, rows)
    stored = conn.execute(
        "SELECT claim_id, request_id FROM access_log WHERE username = %s ORDER BY request_id", (username,)
    ).fetchall()
    assert stored == [(c, f"r{n}") for n, c in enumerate(claim_ids)]
