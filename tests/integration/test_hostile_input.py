"""Hostile HTTP input is refused cleanly (4xx with the error body, never a 5xx) and changes nothing;
and /healthz reports the broker, the relay and each consumer's lag."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import timedelta
from typing import Any
from urllib.parse import quote

import psycopg
import pytest
from fastapi.testclient import TestClient

from ipe_claims.adapters.accounts import create_account
from ipe_claims.application.claims import ClaimsApplication
from ipe_claims.domain.claim import InsuredRecord
from ipe_claims.operations.local import free_port
from ipe_claims.settings import Settings
from services.claim_intake.api import create_app
from services.claim_intake.routes.health import consumer_lag, health_report
from tests.conftest import TODAY, Insured, declare, random_digits

pytestmark = pytest.mark.integration
INJECTIONS = ["1234567' OR '1'='1", "'; DROP TABLE claims; --", "1 UNION SELECT password_hash FROM accounts",
              "\x00", "$(rm -rf /)", "%27%20OR%201=1", "😀" * 50]  # fmt: skip


@pytest.fixture(scope="module")
def client(settings: Settings, claims_app: ClaimsApplication) -> Iterator[TestClient]:
    with TestClient(create_app(settings, claims_app), raise_server_exceptions=False) as test_client:
        yield test_client


@pytest.fixture(scope="module")
def employer(settings: Settings, client: TestClient) -> tuple[dict[str, str], Insured]:
    with psycopg.connect(settings.database.url, autocommit=True) as conn:
        insured = declare(conn, months=38)
        username = f"hostile{random_digits(6)}"
        create_account(conn, username, "hostile-pass-1", "employer", [insured.affiliation_number])
    token = client.post("/api/v1/auth/token", json={"username": username, "password": "hostile-pass-1"})
    return {"Authorization": f"Bearer {token.json()['access_token']}"}, insured


def _refused_cleanly(response: Any) -> None:
    assert 400 <= response.status_code < 500, (response.status_code, response.text[:300])
    error = response.json()["error"]
    assert error["code"] and error["message_fr"] and error["message_ar"]


def _body(insured: Insured, **changes: Any) -> dict[str, Any]:
    return {"affiliation_number": insured.affiliation_number, "immatriculation": insured.immatriculation,
            "job_loss_date": (TODAY - timedelta(days=2)).isoformat(),
            "motif_code": "licenciement_economique", "attestation": True} | changes  # fmt: skip


def _state(conn: psycopg.Connection[Any], insured: Insured) -> tuple[Any, ...]:
    """What a refused request must not change; background consumers keep deciding other tests' claims."""
    return conn.execute(
        "SELECT (SELECT count(*) FROM claims WHERE affiliation_number = %s), (SELECT count(*) FROM accounts), "
        "(SELECT count(*) FROM ipe_events WHERE originator_id = %s)",
        (insured.affiliation_number, InsuredRecord.id_for(insured.immatriculation)),
    ).fetchone()  # type: ignore[return-value]


@pytest.mark.parametrize("field", ["affiliation_number", "immatriculation", "motif_code", "job_loss_date"])
def test_sql_injection_in_claim_fields_is_refused(
    client: TestClient, employer: tuple[dict[str, str], Insured], conn: psycopg.Connection[Any], field: str
) -> None:
    headers, insured = employer
    # Other tests write to the shared store meanwhile: count only what this employer's insured could get.
    record = InsuredRecord.id_for(insured.immatriculation)
    for attack in INJECTIONS:
        for path in ("/api/v1/claims/preview", "/api/v1/claims"):
            _refused_cleanly(client.post(path, json=_body(insured, **{field: attack}), headers=headers))
        assert conn.execute(
            "SELECT count(*) FROM ipe_events WHERE originator_id = %s", (record,)
        ).fetchone() == (0,)
    assert conn.execute("SELECT to_regclass('claims')").fetchone() == ("claims",)


def test_sql_injection_in_credentials_query_and_path_is_refused(
    client: TestClient, employer: tuple[dict[str, str], Insured]
) -> None:
    headers, _ = employer
    for attack in INJECTIONS:
        _refused_cleanly(client.post("/api/v1/auth/token", json={"username": attack, "password": attack}))
        _refused_cleanly(client.get(f"/api/v1/claims/{quote(attack, safe='')}", headers=headers))
        _refused_cleanly(client.get("/api/v1/claims", params={"cursor": attack}, headers=headers))
        bearer = quote(attack, safe="'; =$()%")  # a header cannot carry raw NUL or non-ASCII
        _refused_cleanly(client.get("/api/v1/claims", headers={"Authorization": f"Bearer {bearer}"}))
        listed = client.get("/api/v1/claims", params={"affiliation_number": attack}, headers=headers)
        assert (listed.status_code < 500 and "items" in listed.json()) or "error" in listed.json()
        assert "password_hash" not in listed.text


def test_oversized_and_deeply_nested_bodies_are_refused(
    client: TestClient, employer: tuple[dict[str, str], Insured], conn: psycopg.Connection[Any]
) -> None:
    headers, insured = employer
    before = _state(conn, insured)
    nested = "[" * 100_000 + "]" * 100_000
    deep_object = '{"a":' * 5_000 + "1" + "}" * 5_000
    bodies = [
        json.dumps(_body(insured, motif_code="x" * 5_000_000)),
        json.dumps(_body(insured) | {"padding": ["x"] * 200_000}),
        nested,
        deep_object,
        json.dumps(_body(insured, affiliation_number={"$gt": ""})),
        json.dumps([_body(insured)] * 1000),
        '{"affiliation_number": "1", "affiliation_number": "2"' + ', "x": 1' * 10_000 + "}",
        "\xff\xfe" + "garbage",
    ]
    for body in bodies:
        for path in ("/api/v1/claims", "/api/v1/claims/preview", "/api/v1/auth/token"):
            response = client.post(path, content=body.encode(errors="surrogateescape"),
                                   headers=headers | {"content-type": "application/json"})  # fmt: skip
            _refused_cleanly(response)
    _refused_cleanly(
        client.post(
            "/api/v1/claims", json=_body(insured), headers=headers | {"Idempotency-Key": "k" * 10_000}
        )
    )
    assert _state(conn, insured) == before  # no account, no event came of it


def test_healthz_reports_lag_and_a_degraded_broker(settings: Settings, claims_app: ClaimsApplication) -> None:
    with TestClient(create_app(settings, claims_app)) as client:
        report = client.get("/healthz").json()
    assert report["status"] in ("ok", "degraded") and report["database"] == "ok" and report["broker"] == "ok"
    assert isinstance(report["consumer_lag"], dict) and report["relay_lag"] >= 0
    no_broker = settings.changed(kafka={"bootstrap_servers": f"127.0.0.1:{free_port()}"})
    with TestClient(create_app(no_broker, claims_app)) as client:
        response = client.get("/healthz")
    assert response.status_code == 200  # claims are still taken: degraded, not down
    assert response.json()["status"] == "degraded" and response.json()["broker"] == "down"
    assert any("broker unreachable" in reason for reason in response.json()["reasons"])


def test_healthz_says_when_the_events_table_needs_its_vacuum(
    settings: Settings, claims_app: ClaimsApplication, conn: psycopg.Connection[Any]
) -> None:
    """Autovacuum is off for the events table: the report is where the operator hears that it is due."""
    report = health_report(conn, settings, max_lag=10**9)
    assert report["events_xid_age"] > 0
    assert not any("VACUUM" in reason for reason in report["reasons"])  # far below half of 200 million
    due = health_report(conn, settings, max_lag=10**9, max_xid_age=report["events_xid_age"] - 1)
    assert due["status"] == "degraded"
    assert f"events table needs VACUUM (FREEZE): transaction age {due['events_xid_age']}" in due["reasons"]


def test_consumer_lag_counts_what_the_broker_holds_beyond_each_position() -> None:
    positions = [("ipe-notifier", "t", 0, 10), ("ipe-notifier", "t", 1, 5), ("other", "t", 0, 12)]
    ends = {("t", 0): 12, ("t", 1): 5, ("t", 2): 3, ("u", 0): 99}
    assert consumer_lag(positions, ends) == {"ipe-notifier": {"t": 2 + 0 + 3}, "other": {"t": 0 + 5 + 3}}
