"""The intake API's trust features on the real Postgres: login throttling and locks, token expiry,
limits (413, 429), idempotent retries, the atomic one-open-claim rule under 20 parallel requests,
history filters and CSV, the access log (and `ipe audit access`), metrics and request ids."""

from __future__ import annotations

import csv
import io
import json
import subprocess
import threading
import time
import uuid
from collections.abc import Iterator
from datetime import datetime, timedelta
from typing import Any

import httpx
import psycopg
import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from ipe_claims.adapters.accounts import create_account
from ipe_claims.application.claims import ClaimsApplication
from ipe_claims.domain.claim import InsuredRecord
from ipe_claims.entrypoints.cli import app as cli
from ipe_claims.settings import Settings
from services.claim_intake.api import create_app
from tests.conftest import TODAY, declare, random_digits
from tests.integration.conftest import Pipeline, api_client, served_api
from tests.integration.test_api import (
    PASSWORD,
    claim_body,
    decided,
    employer_of,
    error,
    submit,
    user,
)

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def client(settings: Settings, claims_app: ClaimsApplication) -> Iterator[TestClient]:
    with api_client(settings, claims_app) as test_client:
        yield test_client


@pytest.fixture(scope="module")
def live(settings: Settings, claims_app: ClaimsApplication) -> Iterator[str]:
    with served_api(settings, claims_app) as url:
        yield url


def login(client: TestClient, username: str, password: str = PASSWORD) -> httpx.Response:
    return client.post("/api/v1/auth/token", json={"username": username, "password": password})


def ipe(settings: Settings, *args: str) -> subprocess.CompletedProcess[str]:
    """The `ipe` command run in this process (`main()` is the Typer app): a process of its own costs about
    a second to start; test_report_cli and test_backup_restore run `python -m ipe_claims.entrypoints.cli`."""
    result = CliRunner().invoke(cli, list(args), env={"DATABASE_URL": settings.database.url})
    return subprocess.CompletedProcess(list(args), result.exit_code, result.stdout, result.stderr)


# Logins: slowed, then locked; tokens expire


def test_failed_logins_are_slowed_then_locked(client: TestClient, conn: psycopg.Connection[Any]) -> None:
    username = f"employer-{random_digits(9)}"
    create_account(conn, username, PASSWORD, "employer", [random_digits(7)])
    for _ in range(3):
        assert error(login(client, username, "wrong-password"), 401)["code"] == "invalid_credentials"
    slowed = login(client, username)  # even the right password waits
    assert error(slowed, 429)["code"] == "login_throttled"
    assert 1 <= int(slowed.headers["Retry-After"]) <= 60

    conn.execute("UPDATE login_failures SET last_failure_at = now() - interval '1 hour' WHERE username = %s",
                 (username,))  # fmt: skip
    assert login(client, username).status_code == 200  # the wait is over, and a success forgets the count
    assert conn.execute("SELECT 1 FROM login_failures WHERE username = %s", (username,)).fetchone() is None

    conn.execute("INSERT INTO login_failures (username, address, failures, last_failure_at) "
                 "VALUES (%s, 'testclient', 9, now() - interval '1 hour')", (username,))  # fmt: skip
    assert error(login(client, username, "wrong-password"), 401)["code"] == "invalid_credentials"
    locked = login(client, username)
    assert error(locked, 429)["code"] == "account_locked"
    assert 800 < int(locked.headers["Retry-After"]) <= 900

    conn.execute("UPDATE login_failures SET locked_until = now() - interval '1 second' WHERE username = %s",
                 (username,))  # fmt: skip
    assert login(client, username).status_code == 200


def test_unknown_usernames_are_slowed_alike(client: TestClient) -> None:
    ghost = f"ghost-{random_digits(9)}"
    for _ in range(3):
        assert error(login(client, ghost), 401)["code"] == "invalid_credentials"
    assert error(login(client, ghost), 429)["code"] == "login_throttled"


def test_a_token_expires(client: TestClient, conn: psycopg.Connection[Any], settings: Settings) -> None:
    employer = user(client, conn, "employer", random_digits(7))
    expires = conn.execute("SELECT expires_at - now() FROM api_tokens WHERE username = %s",
                           (employer.username,)).fetchone()[0]  # fmt: skip
    assert (
        timedelta(seconds=settings.http.token_ttl_seconds - 60)
        < expires
        <= timedelta(seconds=settings.http.token_ttl_seconds)
    )
    assert client.get("/api/v1/affiliations", headers=employer.headers).status_code == 200
    conn.execute("UPDATE api_tokens SET expires_at = now() - interval '1 second' WHERE username = %s",
                 (employer.username,))  # fmt: skip
    assert error(client.get("/api/v1/affiliations", headers=employer.headers), 401)["code"] == "unauthorized"


def test_a_token_expires_after_its_ttl(settings: Settings, claims_app: ClaimsApplication,
                                      conn: psycopg.Connection[Any]) -> None:  # fmt: skip
    """The TTL sets the token's expiry; once past it, the token is refused (no sleeping on a loaded machine:
    the expiry is moved into the past instead of waiting for it)."""
    with TestClient(create_app(settings.changed(http={"token_ttl_seconds": 120}), claims_app)) as short:
        employer = user(short, conn, "employer", random_digits(7))
        assert short.get("/api/v1/affiliations", headers=employer.headers).status_code == 200
        remaining = conn.execute(
            "SELECT extract(epoch FROM expires_at - now()) FROM api_tokens WHERE username = %s",
            (employer.username,),
        ).fetchone()[0]
        assert 60 < remaining <= 120
        conn.execute("UPDATE api_tokens SET expires_at = now() - interval '1 second' WHERE username = %s",
                     (employer.username,))  # fmt: skip
        assert short.get("/api/v1/affiliations", headers=employer.headers).status_code == 401


def test_accounts_cli_lists_disables_enables_and_resets(
    client: TestClient, conn: psycopg.Connection[Any], settings: Settings
) -> None:
    username, affiliation = f"cli-{random_digits(9)}", random_digits(7)
    created = ipe(settings, "accounts", "create", "--username", username, "--password", PASSWORD,
                  "--affiliation", affiliation)  # fmt: skip
    assert created.returncode == 0, created.stderr
    assert ipe(settings, "accounts", "create", "--username", f"x-{username}", "--password", PASSWORD,
               "--role", "boss").returncode == 1  # fmt: skip
    token = {"Authorization": f"Bearer {login(client, username).json()['access_token']}"}
    assert ipe(settings, "accounts", "disable", "--username", username).returncode == 0
    assert error(client.get("/api/v1/affiliations", headers=token), 401)["code"] == "unauthorized"
    assert error(login(client, username), 401)["code"] == "invalid_credentials"
    listed = ipe(settings, "accounts", "list")
    assert username in listed.stdout and "disabled" in listed.stdout.split(username)[1].splitlines()[0]
    assert ipe(settings, "accounts", "enable", "--username", username).returncode == 0
    conn.execute("INSERT INTO login_failures (username, address, failures, last_failure_at, locked_until) VALUES "
                 "(%s, 'testclient', 10, now(), now() + interval '15 minutes') ON CONFLICT (username, address) "
                 "DO UPDATE SET locked_until = EXCLUDED.locked_until", (username,))  # fmt: skip
    assert error(login(client, username), 429)["code"] == "account_locked"
    reset = ipe(settings, "accounts", "reset", "--username", username, "--password", "a-new-password")
    assert reset.returncode == 0, reset.stderr
    assert login(client, username, "a-new-password").status_code == 200
    assert (
        ipe(
            settings, "accounts", "reset", "--username", f"none-{username}", "--password", PASSWORD
        ).returncode
        == 1
    )


# Limits


@pytest.mark.parametrize("chunked", [False, True])
def test_a_body_over_16_kib_is_refused(
    client: TestClient, conn: psycopg.Connection[Any], chunked: bool
) -> None:
    employer = user(client, conn, "employer", random_digits(7))
    big = json.dumps({"affiliation_number": "x" * 20_000}).encode()
    content: Any = iter([big[:10_000], big[10_000:]]) if chunked else big
    headers = {**employer.headers, "Content-Type": "application/json"}
    response = client.post("/api/v1/claims", content=content, headers=headers)
    assert error(response, 413)["code"] == "body_too_large"
    assert (
        error(client.post("/api/v1/auth/token", content=big, headers=headers), 413)["code"]
        == "body_too_large"
    )


def test_too_many_requests_of_one_account_are_refused(
    settings: Settings, claims_app: ClaimsApplication, conn: psycopg.Connection[Any]
) -> None:
    if datetime.now().second >= 55:  # the count is per minute: start well inside one
        time.sleep(60 - datetime.now().second)
    with TestClient(create_app(settings.changed(http={"rate_limit_per_minute": 5}), claims_app)) as limited:
        busy, calm = (user(limited, conn, "employer", random_digits(7)) for _ in range(2))
        for _ in range(5):
            assert limited.get("/api/v1/affiliations", headers=busy.headers).status_code == 200
        refused = limited.get("/api/v1/affiliations", headers=busy.headers)
        assert error(refused, 429)["code"] == "rate_limited"
        assert 1 <= int(refused.headers["Retry-After"]) <= 60
        assert limited.get("/api/v1/affiliations", headers=calm.headers).status_code == 200


@pytest.mark.parametrize(
    ("method", "path", "params", "headers", "status", "code", "field"),
    [
        ("DELETE", "/api/v1/claims", {}, {}, 405, "method_not_allowed", None),
        ("GET", "/api/v1/nothing-here", {}, {}, 404, "not_found", None),
        ("GET", "/api/v1/claims", {"limit": 0}, {}, 400, "invalid_type", "query.limit"),
        ("GET", "/api/v1/claims", {"situation": "Perdu"}, {}, 400, "invalid_type", "query.situation"),
        ("GET", "/api/v1/claims", {"from": "2026-02-30"}, {}, 400, "invalid_type", "query.from"),
        ("GET", "/api/v1/claims", {"cursor": "bm90LWEtY3Vyc29y"}, {}, 400, "invalid_cursor", "cursor"),
        ("POST", "/api/v1/claims", {}, {"Idempotency-Key": "k" * 201}, 400, "invalid_type",
         "header.idempotency-key"),
    ],
)  # fmt: skip
def test_framework_and_parameter_refusals_have_the_error_body(
    client: TestClient, conn: psycopg.Connection[Any], method: str, path: str, params: dict[str, Any],
    headers: dict[str, str], status: int, code: str, field: str | None,
) -> None:  # fmt: skip
    insured = declare(conn, months=40)
    employer = employer_of(client, conn, insured)
    body = claim_body(insured) if method == "POST" else None
    response = client.request(method, path, params=params, json=body, headers={**employer.headers, **headers})
    refused = error(response, status)
    assert (refused["code"], refused["field"]) == (code, field)
    assert InsuredRecord.id_for(insured.immatriculation) not in client.app.state.store.repository


# Idempotency and concurrency


def test_the_same_key_five_times_gives_one_claim_and_five_identical_answers(
    pipeline: Pipeline, client: TestClient, conn: psycopg.Connection[Any], claims_app: ClaimsApplication
) -> None:
    insured = declare(conn, months=40)
    employer = employer_of(client, conn, insured)
    headers = {**employer.headers, "Idempotency-Key": f"retry-{uuid.uuid4()}"}
    answers = [client.post("/api/v1/claims", json=claim_body(insured), headers=headers) for _ in range(4)]
    decided(client, employer, answers[0].json()["claim_id"])  # the fifth comes after the decision
    answers.append(client.post("/api/v1/claims", json=claim_body(insured), headers=headers))
    assert [a.status_code for a in answers] == [201] * 5
    assert len({a.content for a in answers}) == 1
    assert answers[0].json()["situation"] == "En cours"
    record = claims_app.repository.get(InsuredRecord.id_for(insured.immatriculation))
    assert record.claim_ids == [uuid.UUID(answers[0].json()["claim_id"])]


def test_twenty_parallel_submissions_for_one_insured_make_one_claim(
    live: str, client: TestClient, conn: psycopg.Connection[Any], claims_app: ClaimsApplication
) -> None:
    insured = declare(conn, months=40)
    employer = employer_of(client, conn, insured)
    start = threading.Barrier(20)
    statuses: list[int] = []

    def one(n: int) -> None:
        headers = {**employer.headers, "Idempotency-Key": f"parallel-{n}-{uuid.uuid4()}"}
        start.wait()
        response = httpx.post(f"{live}/api/v1/claims", json=claim_body(insured), headers=headers, timeout=60)
        statuses.append(response.status_code)

    threads = [threading.Thread(target=one, args=(n,)) for n in range(20)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=90)
    assert sorted(statuses) == [201] + [409] * 19
    assert len(claims_app.repository.get(InsuredRecord.id_for(insured.immatriculation)).claim_ids) == 1


# History, CSV, access log


@pytest.mark.calendar
def test_history_filters_pages_and_exports(
    pipeline: Pipeline, client: TestClient, conn: psycopg.Connection[Any], settings: Settings
) -> None:
    first = declare(conn, months=40)
    second = declare(conn, months=20, affiliation_number=first.affiliation_number)
    employer = employer_of(client, conn, first)
    claim_ids = [submit(client, employer, insured) for insured in (first, second)]
    for claim_id in claim_ids:
        decided(client, employer, claim_id)

    def ids(**params: Any) -> list[str]:
        response = client.get("/api/v1/claims", params=params, headers=employer.headers)
        assert response.status_code == 200, response.text
        return [item["claim_id"] for item in response.json()["items"]]

    today, day = TODAY, timedelta(days=1)
    assert ids() == claim_ids[::-1]  # newest filing first
    assert ids(immatriculation=second.immatriculation) == [claim_ids[1]]
    assert ids(**{"from": (today - day).isoformat(), "to": (today + day).isoformat()}) == claim_ids[::-1]
    assert ids(**{"from": (today + day).isoformat()}) == []
    assert ids(to=(today - 2 * day).isoformat()) == []
    page = client.get("/api/v1/claims", params={"limit": 1}, headers=employer.headers).json()
    assert [i["claim_id"] for i in page["items"]] == [claim_ids[1]]
    assert page["next_cursor"] and claim_ids[1] not in page["next_cursor"]  # opaque
    assert ids(limit=1, cursor=page["next_cursor"]) == [claim_ids[0]]

    exported = client.get("/api/v1/claims", headers={**employer.headers, "Accept": "text/csv"})
    assert exported.status_code == 200
    assert exported.headers["content-type"].startswith("text/csv")
    rows = list(csv.reader(io.StringIO(exported.content.decode("utf-8-sig"))))
    assert rows[0] == ["Identification", "C.I.R.", "Nom", "Prénoms", "Numero Affecté", "Motif Perte Emploi",
                       "Date Perte Emploi", "Situation", "Date situation", "Motif Rejet"]  # fmt: skip
    assert [(r[0], r[1], r[2], r[3], r[4], r[7]) for r in rows[1:]] == [
        (second.immatriculation, second.cin, second.nom, second.prenoms, claim_ids[1], "Rejeté"),
        (first.immatriculation, first.cin, first.nom, first.prenoms, claim_ids[0], "Valable"),
    ]
    assert rows[1][9] and rows[2][9] == ""  # the rejection's reason, none for a valid claim

    logged = conn.execute(
        "SELECT action, claim_id::text FROM access_log WHERE username = %s AND action = 'claims.export'",
        (employer.username,),
    ).fetchall()
    assert sorted(row[1] for row in logged) == sorted(claim_ids)


def test_every_read_of_personal_data_is_in_the_access_log(
    pipeline: Pipeline, client: TestClient, conn: psycopg.Connection[Any], settings: Settings
) -> None:
    insured = declare(conn, months=40)
    employer = employer_of(client, conn, insured)
    auditor = user(client, conn, "auditor")
    claim_id = submit(client, employer, insured)
    decided(client, employer, claim_id)
    read = client.get(
        f"/api/v1/claims/{claim_id}", headers={**auditor.headers, "X-Request-ID": "audit-trail-1"}
    )
    assert read.headers["X-Request-ID"] == "audit-trail-1"
    client.get("/api/v1/claims", params={"immatriculation": insured.immatriculation}, headers=auditor.headers)
    client.get(f"/api/v1/affiliations/{insured.affiliation_number}/insured", headers=employer.headers)

    by_claim = ipe(settings, "audit", "access", "--claim", claim_id, "--json")
    assert by_claim.returncode == 0, by_claim.stderr
    seen = [json.loads(line) for line in by_claim.stdout.splitlines()]
    assert {(r["username"], r["action"]) for r in seen} >= {
        (auditor.username, "claim.read"), (auditor.username, "claims.list"), (employer.username, "claim.submit"),
    }  # fmt: skip
    assert {
        r["request_id"] for r in seen if r["username"] == auditor.username and r["action"] == "claim.read"
    } == {"audit-trail-1"}
    by_account = ipe(settings, "audit", "access", "--account", employer.username, "--json")
    actions = {json.loads(line)["action"] for line in by_account.stdout.splitlines()}
    assert {"claim.submit", "claim.read", "insured.list"} <= actions
    assert ipe(settings, "audit", "access").returncode == 2


def test_metrics_and_request_ids(client: TestClient, conn: psycopg.Connection[Any]) -> None:
    insured = declare(conn, months=40)
    employer = employer_of(client, conn, insured)
    submit(client, employer, insured)
    client.post("/api/v1/claims", json=claim_body(insured), headers=employer.headers)  # 409
    response = client.get("/metrics")
    assert response.status_code == 200
    text = response.text
    assert 'ipe_claim_submissions_total{channel="http",outcome="accepted"}' in text
    assert 'ipe_claim_submissions_total{channel="http",outcome="open_claim_exists"}' in text
    assert 'ipe_http_requests_total{method="POST",route="/api/v1/claims",status="201"}' in text
    assert 'ipe_http_request_duration_seconds_count{method="POST",route="/api/v1/claims"}' in text
    assert "# TYPE ipe_dead_letters_total counter" in text
    assert insured.nom not in text and insured.immatriculation not in text
    generated = {client.get("/api/v1/motifs").headers["X-Request-ID"] for _ in range(3)}
    assert len(generated) == 3
    assert (
        client.get("/api/v1/motifs", headers={"X-Request-ID": "bad id!"}).headers["X-Request-ID"] != "bad id!"
    )
    assert error(client.get("/api/v1/nowhere"), 404) and client.get("/api/v1/nowhere").headers["X-Request-ID"]
