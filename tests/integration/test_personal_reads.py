"""Every read of personal data is on record with a who: the API's return to work names the account, the
``ipe`` commands that print a person name the operating-system user and host. A refusal does not tell a
stranger anything about another affiliation's claim."""

from __future__ import annotations

import getpass
import os
import re
import socket
import subprocess
import sys
import uuid
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import psycopg
import pytest
from fastapi.testclient import TestClient

from ipe_claims.adapters.declarations import load_rows
from ipe_claims.application.claims import ClaimsApplication
from ipe_claims.domain.contributions import months_before
from ipe_claims.settings import Settings
from tests.conftest import TODAY, declare, random_digits
from tests.integration.conftest import Pipeline, api_client
from tests.integration.test_api import claim_body, decided, employer_of, submit

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def client(settings: Settings, claims_app: ClaimsApplication) -> Iterator[TestClient]:
    with api_client(settings, claims_app) as test_client:
        yield test_client


def logged(conn: psycopg.Connection[Any], claim_id: str, action: str) -> list[tuple[Any, ...]]:
    return conn.execute(
        "SELECT username, role, host, immatriculation FROM access_log WHERE claim_id = %s AND action = %s",
        (claim_id, action),
    ).fetchall()


def cli(settings: Settings, *args: str) -> subprocess.CompletedProcess[str]:
    env = os.environ | {"DATABASE_URL": settings.database.url}
    return subprocess.run([sys.executable, "-m", "ipe_claims.entrypoints.cli", *args], env=env, capture_output=True,
                          text=True, timeout=120)  # fmt: skip


@pytest.fixture(scope="module")
def decided_claim(pipeline: Pipeline, client: TestClient, settings: Settings) -> tuple[Any, Any, str]:
    with psycopg.connect(settings.database.url, autocommit=True) as conn:
        insured = declare(conn, months=40)
        owner = employer_of(client, conn, insured)
    claim_id = submit(client, owner, insured)
    decided(client, owner, claim_id)
    return insured, owner, claim_id


def test_return_to_work_is_in_the_access_log_with_the_account(
    client: TestClient, conn: psycopg.Connection[Any], decided_claim: tuple[Any, Any, str]
) -> None:
    insured, owner, claim_id = decided_claim
    returned = (TODAY + timedelta(days=45)).isoformat()
    response = client.post(f"/api/v1/claims/{claim_id}/return-to-work", headers=owner.headers,
                           json={"return_date": returned})  # fmt: skip
    assert response.status_code == 200, response.text
    assert logged(conn, claim_id, "claim.return_to_work") == [
        (owner.username, "employer", None, insured.immatriculation)
    ]


def test_ipe_audit_claim_records_the_operating_system_user_and_host(
    settings: Settings, conn: psycopg.Connection[Any], decided_claim: tuple[Any, Any, str]
) -> None:
    insured, _, claim_id = decided_claim
    shown = cli(settings, "audit", "claim", claim_id)
    assert shown.returncode == 0, shown.stdout + shown.stderr
    assert insured.cin in shown.stdout  # it does print a person: hence the row
    assert logged(conn, claim_id, "claim.audit") == [
        (getpass.getuser(), "operator", socket.gethostname(), insured.immatriculation)
    ]
    nothing = cli(settings, "audit", "claim", str(uuid.uuid4()))
    assert nothing.returncode == 1  # no claim, nothing shown, nothing to record


def test_reading_the_access_log_is_itself_recorded(
    settings: Settings, conn: psycopg.Connection[Any], decided_claim: tuple[Any, Any, str]
) -> None:
    insured, _, claim_id = decided_claim
    shown = cli(settings, "audit", "access", "--claim", claim_id, "--json")
    assert shown.returncode == 0, shown.stdout + shown.stderr
    assert insured.immatriculation in shown.stdout
    assert logged(conn, claim_id, "access_log.read") == [
        (getpass.getuser(), "operator", socket.gethostname(), insured.immatriculation)
    ]


def test_the_cli_return_to_work_names_its_operator(
    pipeline: Pipeline, client: TestClient, settings: Settings, conn: psycopg.Connection[Any]
) -> None:
    insured = declare(conn, months=40)
    owner = employer_of(client, conn, insured)
    claim_id = submit(client, owner, insured)
    decided(client, owner, claim_id)
    returned = (TODAY + timedelta(days=45)).isoformat()
    done = cli(settings, "claims", "return-to-work", claim_id, "--date", returned)
    assert done.returncode == 0, done.stdout + done.stderr
    who = (getpass.getuser(), "operator", socket.gethostname(), insured.immatriculation)
    assert logged(conn, claim_id, "claim.return_to_work") == [who]
    caused_by = conn.execute(
        "SELECT convert_from(state, 'UTF8')::jsonb ->> 'declared_by' FROM ipe_events WHERE originator_id = %s "
        "AND topic LIKE '%%ReturnedToWork'", (claim_id,)
    ).fetchone()  # fmt: skip
    assert caused_by == (f"cli:{who[0]}@{who[2]}",)


def test_an_open_claim_of_another_affiliation_is_refused_without_its_dates_or_id(
    pipeline: Pipeline, client: TestClient, conn: psycopg.Connection[Any]
) -> None:
    first = declare(conn, months=40)
    other_affiliation = random_digits(7)
    load_rows(conn, [(other_affiliation, first.immatriculation, first.cin, first.nom, first.prenoms, month, 26,
                      "4000.00") for month in months_before(TODAY, 40)])  # fmt: skip
    loss = (TODAY - timedelta(days=17)).isoformat()
    owner = employer_of(client, conn, first)
    opened = client.post("/api/v1/claims", headers=owner.headers, json=claim_body(first, job_loss_date=loss))
    assert opened.status_code == 201, opened.text
    stranger = employer_of(client, conn, declare(conn, months=1, affiliation_number=other_affiliation))
    body = claim_body(first, affiliation_number=other_affiliation)
    refused = client.post("/api/v1/claims", headers=stranger.headers, json=body)
    assert refused.status_code == 409, refused.text
    assert refused.json()["error"]["code"] == "open_claim_exists"
    text = refused.text
    assert loss not in text and opened.json()["claim_id"] not in text
    assert not re.search(r"\d{4}-\d{2}-\d{2}", text)  # no date of the open claim, in any form
    assert not re.search(r"\d{2}/\d{2}/\d{4}", text)
    assert first.affiliation_number not in text
