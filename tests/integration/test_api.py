"""The intake HTTP API end to end: real Postgres for accounts, reference data and the read model; the
`pipeline` fixture decides and projects the claims that a test then reads back."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import httpx
import psycopg
import pytest
from fastapi.testclient import TestClient

from ipe_claims.adapters.accounts import create_account
from ipe_claims.application.claims import ClaimsApplication
from ipe_claims.domain.claim import InsuredRecord
from ipe_claims.settings import Settings
from tests.conftest import TODAY, Insured, days_ago, declare, random_digits, wait_for
from tests.integration.conftest import Pipeline, api_client

pytestmark = pytest.mark.integration

PASSWORD = "correct horse battery"
MISSING = object()  # a field left out of the request body
LOSS = days_ago(5)  # the job-loss date of a claim_body


@pytest.fixture(scope="module")
def client(settings: Settings, claims_app: ClaimsApplication) -> Iterator[TestClient]:
    with api_client(settings, claims_app) as test_client:
        yield test_client


@dataclass(frozen=True)
class User:
    username: str
    headers: dict[str, str]


def user(
    client: TestClient, conn: psycopg.Connection[Any], role: str = "employer", *affiliations: str
) -> User:
    """A new account with a random name, logged in."""
    username = f"{role}-{random_digits(9)}"
    create_account(conn, username, PASSWORD, role, list(affiliations), "CASA-01" if role == "agent" else None)
    response = client.post("/api/v1/auth/token", json={"username": username, "password": PASSWORD})
    assert response.status_code == 200
    return User(username, {"Authorization": f"Bearer {response.json()['access_token']}"})


def employer_of(client: TestClient, conn: psycopg.Connection[Any], *insured: Insured) -> User:
    return user(client, conn, "employer", *sorted({i.affiliation_number for i in insured}))


def claim_body(insured: Insured, **changes: Any) -> dict[str, Any]:
    body = {
        "affiliation_number": insured.affiliation_number,
        "immatriculation": insured.immatriculation,
        "job_loss_date": LOSS.isoformat(),
        "motif_code": "licenciement_economique",
        "attestation": True,
    }
    body.update(changes)
    return {key: value for key, value in body.items() if value is not MISSING}


def error(response: httpx.Response, status: int) -> dict[str, Any]:
    """The error of a refusal with ``status``, after checking the body has the one error shape."""
    assert response.status_code == status, response.text
    body = response.json()
    assert set(body) == {"error"}
    assert set(body["error"]) == {"code", "message_fr", "message_ar", "field"}
    assert body["error"]["message_fr"] and body["error"]["message_ar"]
    return body["error"]


def submit(client: TestClient, who: User, insured: Insured, key: str | None = None) -> str:
    headers = {**who.headers, "Idempotency-Key": key} if key else who.headers
    response = client.post("/api/v1/claims", json=claim_body(insured), headers=headers)
    assert response.status_code == 201, response.text
    return response.json()["claim_id"]


def decided(client: TestClient, who: User, claim_id: str) -> httpx.Response:
    """The claim's GET response once the pipeline has decided and projected it."""

    def probe() -> httpx.Response | None:
        response = client.get(f"/api/v1/claims/{claim_id}", headers=who.headers)
        return (
            response if response.status_code == 200 and response.json()["situation"] != "En cours" else None
        )

    return wait_for(probe, what=f"claim {claim_id} decided in the read model")


def notification_kinds(client: TestClient, who: User, claim_id: str, count: int) -> list[str]:
    def probe() -> list[str] | None:
        response = client.get(f"/api/v1/claims/{claim_id}/notifications", headers=who.headers)
        assert response.status_code == 200
        kinds = [n["kind"] for n in response.json()]
        return kinds if len(kinds) == count else None

    return wait_for(probe, what=f"{count} notifications of claim {claim_id}")


def listed(client: TestClient, who: User, **params: Any) -> dict[str, Any]:
    response = client.get("/api/v1/claims", params=params, headers=who.headers)
    assert response.status_code == 200, response.text
    return response.json()


def listed_ids(client: TestClient, who: User, **params: Any) -> list[str]:
    return [item["claim_id"] for item in listed(client, who, **params)["items"]]


# Tokens and authentication


def test_good_credentials_get_a_bearer_token(
    client: TestClient, conn: psycopg.Connection[Any], settings: Settings
) -> None:
    username = f"employer-{random_digits(9)}"
    create_account(conn, username, PASSWORD, "employer", [random_digits(7)])
    response = client.post("/api/v1/auth/token", json={"username": username, "password": PASSWORD})
    assert response.status_code == 200
    body = response.json()
    assert set(body) == {"access_token", "token_type", "expires_in"}
    assert body["token_type"] == "bearer"
    assert body["expires_in"] == settings.http.token_ttl_seconds
    headers = {"Authorization": f"Bearer {body['access_token']}"}
    assert client.get("/api/v1/affiliations", headers=headers).status_code == 200


@pytest.mark.parametrize("wrong", ["password", "username"])
def test_bad_credentials_are_refused(client: TestClient, conn: psycopg.Connection[Any], wrong: str) -> None:
    username = f"employer-{random_digits(9)}"
    create_account(conn, username, PASSWORD, "employer", [random_digits(7)])
    credentials = {"username": username, "password": PASSWORD, wrong: f"not-{random_digits(6)}"}
    response = client.post("/api/v1/auth/token", json=credentials)
    assert error(response, 401)["code"] == "invalid_credentials"


@pytest.mark.parametrize(
    "authorization", [None, "Bearer not-a-token", "Bearer ", "Basic dXNlcjpwYXNz", "not-a-token"]
)
def test_a_protected_endpoint_needs_a_valid_bearer_token(
    client: TestClient, authorization: str | None
) -> None:
    headers = {"Authorization": authorization} if authorization is not None else {}
    response = client.get("/api/v1/affiliations", headers=headers)
    assert error(response, 401)["code"] == "unauthorized"
    assert response.headers["WWW-Authenticate"] == "Bearer"


# Reference data


def test_motifs_are_listed_with_french_and_arabic_labels(client: TestClient) -> None:
    response = client.get("/api/v1/motifs")
    assert response.status_code == 200
    motifs = {m["code"]: m for m in response.json()}
    assert {"licenciement_economique", "fin_cdd", "demission", "autre"} <= set(motifs)
    assert motifs["demission"] == {"code": "demission", "label_fr": "Démission", "label_ar": "الاستقالة"}
    assert motifs["autre"] == {"code": "autre", "label_fr": "Autre", "label_ar": "سبب آخر"}
    assert all(m["label_fr"] and m["label_ar"] for m in motifs.values())


def test_a_compte_groupe_sees_exactly_its_affiliations(
    client: TestClient, conn: psycopg.Connection[Any]
) -> None:
    first, second = declare(conn, months=12), declare(conn, months=12)
    declare(conn, months=12)  # someone else's
    employer = employer_of(client, conn, first, second)
    response = client.get("/api/v1/affiliations", headers=employer.headers)
    assert response.status_code == 200
    assert [a["affiliation_number"] for a in response.json()] == sorted(
        [first.affiliation_number, second.affiliation_number]
    )


def test_an_affiliation_lists_the_insured_it_declared(
    client: TestClient, conn: psycopg.Connection[Any]
) -> None:
    first = declare(conn, months=12)
    second = declare(conn, months=12, affiliation_number=first.affiliation_number)
    declare(conn, months=12)  # declared by another affiliation
    employer = employer_of(client, conn, first)
    response = client.get(
        f"/api/v1/affiliations/{first.affiliation_number}/insured", headers=employer.headers
    )
    assert response.status_code == 200
    expected = [
        {"immatriculation": i.immatriculation, "cin": i.cin, "nom": i.nom, "prenoms": i.prenoms}
        for i in (first, second)
    ]
    assert sorted(response.json(), key=lambda i: i["immatriculation"]) == sorted(
        expected, key=lambda i: i["immatriculation"]
    )


def test_another_employers_affiliation_is_not_found(
    client: TestClient, conn: psycopg.Connection[Any]
) -> None:
    mine, theirs = declare(conn, months=12), declare(conn, months=12)
    employer = employer_of(client, conn, mine)
    user(client, conn, "employer", theirs.affiliation_number)
    response = client.get(
        f"/api/v1/affiliations/{theirs.affiliation_number}/insured", headers=employer.headers
    )
    assert error(response, 404)["code"] == "not_found"


# Submitting a claim and following it through the pipeline


@pytest.mark.calendar
def test_a_valid_claim_is_accepted_then_decided_with_its_amount(
    pipeline: Pipeline, client: TestClient, conn: psycopg.Connection[Any]
) -> None:
    insured = declare(conn, months=40)  # 26 days a month at 4000.00 MAD
    employer = employer_of(client, conn, insured)
    response = client.post("/api/v1/claims", json=claim_body(insured), headers=employer.headers)
    assert response.status_code == 201, response.text
    accepted = response.json()
    assert uuid.UUID(accepted["claim_id"])
    assert accepted["situation"] == "En cours"
    assert accepted["immatriculation"] == insured.immatriculation
    assert accepted["monthly_amount"] is None

    shown = decided(client, employer, accepted["claim_id"])
    claim = shown.json()
    assert claim["situation"] == "Valable"
    assert claim["rejection_code"] is None
    assert claim["duration_months"] == 6
    assert '"monthly_amount": 2800.00' in shown.text  # a JSON number with its two decimals
    assert claim["monthly_amount"] == 2800
    assert notification_kinds(client, employer, accepted["claim_id"], 2) == ["deposited", "valid"]


@pytest.mark.calendar
def test_a_short_history_is_rejected_with_its_reason(
    pipeline: Pipeline, client: TestClient, conn: psycopg.Connection[Any]
) -> None:
    insured = declare(conn, months=20, before=LOSS)  # the 20 months before the loss's month, all counted
    employer = employer_of(client, conn, insured)
    claim_id = submit(client, employer, insured)
    claim = decided(client, employer, claim_id).json()
    assert claim["situation"] == "Rejeté"
    assert claim["rejection_code"] == "insufficient_days_36"
    assert "520" in claim["rejection_reason"] and "780" in claim["rejection_reason"]
    assert claim["monthly_amount"] is None
    assert notification_kinds(client, employer, claim_id, 2) == ["deposited", "rejected"]


# Validation


@pytest.mark.calendar
@pytest.mark.parametrize(
    ("changes", "status", "code", "field"),
    [
        pytest.param({"attestation": "yes"}, 400, "invalid_type", "attestation", id="attestation-string"),
        pytest.param({"immatriculation": 123456789}, 400, "invalid_type", "immatriculation", id="number"),
        pytest.param({"commentaire": "urgent"}, 422, "unknown_field", "commentaire", id="unknown-field"),
        pytest.param({"motif_code": MISSING}, 422, "missing_field", "motif_code", id="missing-field"),
        pytest.param({"motif_code": "vacances"}, 422, "unknown_motif", "motif_code", id="unknown-motif"),
        pytest.param({"attestation": False}, 422, "attestation_required", "attestation", id="no-attestation"),
        pytest.param({"job_loss_date": "2026-13-01"}, 422, "invalid_date", "job_loss_date", id="month-13"),
        pytest.param({"job_loss_date": "yesterday"}, 422, "invalid_date", "job_loss_date", id="words"),
        pytest.param({"job_loss_date": "20260101"}, 422, "invalid_date", "job_loss_date", id="basic-format"),
        pytest.param({"job_loss_date": "2026-W01-1"}, 422, "invalid_date", "job_loss_date", id="week-date"),
        pytest.param(
            {"job_loss_date": (TODAY + timedelta(days=2)).isoformat()},
            422,
            "job_loss_date_in_future",
            "job_loss_date",
            id="future",
        ),
    ],
)
def test_an_invalid_claim_is_refused_with_its_code(
    client: TestClient,
    conn: psycopg.Connection[Any],
    claims_app: ClaimsApplication,
    changes: dict[str, Any],
    status: int,
    code: str,
    field: str,
) -> None:
    insured = declare(conn, months=40)
    employer = employer_of(client, conn, insured)
    for path in ("/api/v1/claims", "/api/v1/claims/preview"):
        response = client.post(path, json=claim_body(insured, **changes), headers=employer.headers)
        refused = error(response, status)
        assert (refused["code"], refused["field"]) == (code, field)
    assert InsuredRecord.id_for(insured.immatriculation) not in claims_app.repository


@pytest.mark.parametrize("content", ['{"affiliation_number": ', "[]", "null", ""])
def test_a_body_that_is_not_a_json_object_is_malformed(
    client: TestClient, conn: psycopg.Connection[Any], content: str
) -> None:
    employer = employer_of(client, conn, declare(conn, months=12))
    headers = {**employer.headers, "Content-Type": "application/json"}
    response = client.post("/api/v1/claims", content=content, headers=headers)
    assert error(response, 400)["code"] == "malformed_json"


def test_an_insured_the_affiliation_never_declared_is_refused(
    client: TestClient, conn: psycopg.Connection[Any]
) -> None:
    mine, stranger = declare(conn, months=40), declare(conn, months=40)
    employer = employer_of(client, conn, mine)
    body = claim_body(mine, immatriculation=stranger.immatriculation)
    refused = error(client.post("/api/v1/claims", json=body, headers=employer.headers), 422)
    assert (refused["code"], refused["field"]) == ("insured_not_declared", "immatriculation")


def test_a_claim_on_another_employers_affiliation_is_not_found(
    client: TestClient, conn: psycopg.Connection[Any], claims_app: ClaimsApplication
) -> None:
    mine, theirs = declare(conn, months=40), declare(conn, months=40)
    employer = employer_of(client, conn, mine)
    response = client.post("/api/v1/claims", json=claim_body(theirs), headers=employer.headers)
    assert error(response, 404)["code"] == "not_found"
    assert InsuredRecord.id_for(theirs.immatriculation) not in claims_app.repository


def test_a_second_open_claim_for_the_same_insured_is_a_conflict(
    client: TestClient, conn: psycopg.Connection[Any]
) -> None:
    insured = declare(conn, months=40)
    employer = employer_of(client, conn, insured)
    submit(client, employer, insured)
    response = client.post("/api/v1/claims", json=claim_body(insured), headers=employer.headers)
    assert error(response, 409)["code"] == "open_claim_exists"


# Idempotency


def test_a_repeated_request_with_the_same_key_files_one_claim(
    client: TestClient, conn: psycopg.Connection[Any], claims_app: ClaimsApplication
) -> None:
    insured = declare(conn, months=40)
    employer = employer_of(client, conn, insured)
    key = str(uuid.uuid4())
    first = submit(client, employer, insured, key)
    again = submit(client, employer, insured, key)
    assert again == first
    record: InsuredRecord = claims_app.repository.get(InsuredRecord.id_for(insured.immatriculation))
    assert record.claim_ids == [uuid.UUID(first)]


def test_a_key_reused_for_another_request_is_refused(
    client: TestClient, conn: psycopg.Connection[Any], claims_app: ClaimsApplication
) -> None:
    insured = declare(conn, months=40)
    employer = employer_of(client, conn, insured)
    key = str(uuid.uuid4())
    first = submit(client, employer, insured, key)
    headers = {**employer.headers, "Idempotency-Key": key}
    response = client.post("/api/v1/claims", json=claim_body(insured, motif_code="fin_cdd"), headers=headers)
    assert error(response, 422)["code"] == "idempotency_key_reused"
    assert claims_app.get_claim(uuid.UUID(first)).motif_code == "licenciement_economique"


# Who sees what


def test_claims_are_visible_to_their_employer_and_auditors_only(
    pipeline: Pipeline, client: TestClient, conn: psycopg.Connection[Any]
) -> None:
    insured = declare(conn, months=40)
    owner = employer_of(client, conn, insured)
    other = employer_of(client, conn, declare(conn, months=40))
    auditor = user(client, conn, "auditor")
    claim_id = submit(client, owner, insured)
    decided(client, owner, claim_id)

    assert error(client.get(f"/api/v1/claims/{claim_id}", headers=other.headers), 404)["code"] == "not_found"
    notifications = client.get(f"/api/v1/claims/{claim_id}/notifications", headers=other.headers)
    assert error(notifications, 404)["code"] == "not_found"
    assert claim_id not in listed_ids(client, other)
    assert claim_id not in listed_ids(client, other, affiliation_number=insured.affiliation_number)

    seen = client.get(f"/api/v1/claims/{claim_id}", headers=auditor.headers)
    assert seen.status_code == 200
    assert seen.json()["claim_id"] == claim_id
    assert client.get(f"/api/v1/claims/{claim_id}/notifications", headers=auditor.headers).status_code == 200
    # What the insured was told is about them: each read is in the access log, a refused one is not.
    logged = conn.execute(
        "SELECT username, claim_id::text FROM access_log WHERE action = 'claim.notifications' AND username = ANY(%s)",
        ([auditor.username, other.username],),
    ).fetchall()
    assert logged == [(auditor.username, claim_id)]


def test_an_auditor_cannot_file_a_claim(client: TestClient, conn: psycopg.Connection[Any]) -> None:
    insured = declare(conn, months=40)
    auditor = user(client, conn, "auditor")
    response = client.post("/api/v1/claims", json=claim_body(insured), headers=auditor.headers)
    assert error(response, 403)["code"] == "forbidden"


def test_an_analyst_cannot_list_claims(client: TestClient, conn: psycopg.Connection[Any]) -> None:
    analyst = user(client, conn, "analyst")
    assert error(client.get("/api/v1/claims", headers=analyst.headers), 403)["code"] == "forbidden"


def test_an_unknown_or_malformed_claim_id_is_not_found(
    client: TestClient, conn: psycopg.Connection[Any]
) -> None:
    auditor = user(client, conn, "auditor")
    for claim_id in (str(uuid.uuid4()), "not-a-uuid"):
        assert (
            error(client.get(f"/api/v1/claims/{claim_id}", headers=auditor.headers), 404)["code"]
            == "not_found"
        )


# Listing


def two_decided_claims(
    client: TestClient, conn: psycopg.Connection[Any], months: tuple[int, int]
) -> tuple[User, Insured, list[str]]:
    """An employer whose one affiliation filed two claims, for histories of ``months``; both decided."""
    first = declare(conn, months=months[0])
    second = declare(conn, months=months[1], affiliation_number=first.affiliation_number)
    employer = employer_of(client, conn, first)
    claim_ids = [submit(client, employer, insured) for insured in (first, second)]
    for claim_id in claim_ids:
        decided(client, employer, claim_id)
    return employer, first, claim_ids


def test_the_list_is_paged_with_a_cursor(
    pipeline: Pipeline, client: TestClient, conn: psycopg.Connection[Any]
) -> None:
    employer, insured, claim_ids = two_decided_claims(client, conn, (40, 40))
    scope = {"affiliation_number": insured.affiliation_number, "limit": 1}
    first_page = listed(client, employer, **scope)
    assert len(first_page["items"]) == 1
    assert first_page["next_cursor"]
    second_page = listed(client, employer, **scope, cursor=first_page["next_cursor"])
    assert len(second_page["items"]) == 1
    assert second_page["next_cursor"] is None
    assert sorted([first_page["items"][0]["claim_id"], second_page["items"][0]["claim_id"]]) == sorted(
        claim_ids
    )


def test_the_list_filters_by_situation(
    pipeline: Pipeline, client: TestClient, conn: psycopg.Connection[Any]
) -> None:
    employer, insured, (valid, rejected) = two_decided_claims(client, conn, (40, 20))
    scope = {"affiliation_number": insured.affiliation_number}
    assert sorted(listed_ids(client, employer, **scope)) == sorted([valid, rejected])
    valables = client.get(
        "/api/v1/claims", params={**scope, "situation": "Valable"}, headers=employer.headers
    )
    assert [item["claim_id"] for item in valables.json()["items"]] == [valid]
    assert '"monthly_amount": 2800.00' in valables.text
    assert listed_ids(client, employer, **scope, situation="Rejeté") == [rejected]
    assert listed_ids(client, employer, **scope, situation="En cours") == []


def test_an_invalid_cursor_is_refused(client: TestClient, conn: psycopg.Connection[Any]) -> None:
    employer = employer_of(client, conn, declare(conn, months=12))
    response = client.get("/api/v1/claims", params={"cursor": "page-2"}, headers=employer.headers)
    refused = error(response, 400)
    assert (refused["code"], refused["field"]) == ("invalid_cursor", "cursor")


# Preview and health


def test_a_preview_shows_the_claim_and_files_nothing(
    client: TestClient, conn: psycopg.Connection[Any], claims_app: ClaimsApplication
) -> None:
    insured = declare(conn, months=40)
    employer = employer_of(client, conn, insured)
    scope = {"affiliation_number": insured.affiliation_number}
    before = listed(client, employer, **scope)
    body = claim_body(insured, motif_code="fin_cdd", job_loss_date="2025-03-31")
    response = client.post("/api/v1/claims/preview", json=body, headers=employer.headers)
    assert response.status_code == 200, response.text
    assert response.json() == {
        "assure": f"{insured.prenoms} {insured.nom}",
        "immatriculation": insured.immatriculation,
        "motif_code": "fin_cdd",
        "motif_label": "Fin de contrat à durée déterminée",
        "job_loss_date": "2025-03-31",
    }
    assert listed(client, employer, **scope) == before == {"items": [], "next_cursor": None}
    assert InsuredRecord.id_for(insured.immatriculation) not in claims_app.repository


def test_the_health_check_answers(client: TestClient) -> None:
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json()["status"] == "ok" and response.json()["database"] == "ok"
