"""The employer portal over HTTP (no browser): CSRF refusals, the session cookie's flags, the API's refusals
in the pages, the access log. The browser tests are tests/e2e/test_portal_browser.py."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import httpx
import psycopg
import pytest
from fastapi.testclient import TestClient

from ipe_claims.adapters.accounts import create_account
from ipe_claims.application.claims import ClaimsApplication
from ipe_claims.settings import Settings
from services.claim_intake.api import create_app
from tests.conftest import Insured, days_ago, declare, random_digits, wait_for
from tests.integration.conftest import Pipeline, no_server_error

pytestmark = pytest.mark.integration
PASSWORD = "correct horse battery"


@pytest.fixture(scope="module")
def portal_app(settings: Settings, claims_app: ClaimsApplication) -> Iterator[Any]:
    app = create_app(settings, claims_app)
    with TestClient(app):  # runs the lifespan once for the module's clients
        yield app


def browser(app: Any, base_url: str = "http://127.0.0.1") -> TestClient:
    """A client keeping cookies, like a browser; no 5xx allowed."""
    client = TestClient(app, base_url=base_url, follow_redirects=False)
    client.event_hooks = {"request": [], "response": [no_server_error]}
    return client


def csrf_of(response: httpx.Response) -> str:
    found = re.search(r'name="csrf" value="([^"]+)"', response.text)
    assert found, response.text
    return found.group(1)


def employer(conn: psycopg.Connection[Any], *affiliations: str) -> str:
    username = f"employer-{random_digits(9)}"
    create_account(conn, username, PASSWORD, "employer", list(affiliations))
    return username


def logged_in(app: Any, username: str, base_url: str = "http://127.0.0.1") -> TestClient:
    client = browser(app, base_url)
    page = client.get("/portail/connexion")
    response = client.post("/portail/connexion", data={"csrf": csrf_of(page), "username": username,
                                                        "password": PASSWORD})  # fmt: skip
    assert response.status_code == 303, response.text
    return client


def set_cookies(response: httpx.Response) -> dict[str, str]:
    return {h.split("=", 1)[0]: h for h in response.headers.get_list("set-cookie")}


def test_the_session_cookie_is_http_only_strict_and_secure_except_on_loopback_http(
    portal_app: Any, conn: psycopg.Connection[Any]
) -> None:
    name = employer(conn, random_digits(7))
    for base_url, secure in (("http://127.0.0.1", False), ("https://portail.example", True)):
        client = browser(portal_app, base_url)
        page = client.get("/portail/connexion")
        assert page.headers["cache-control"] == "no-store"
        response = client.post("/portail/connexion", data={"csrf": csrf_of(page), "username": name,
                                                            "password": PASSWORD})  # fmt: skip
        assert response.status_code == 303
        cookie = set_cookies(response)["ipe_portail"].lower()
        assert "httponly" in cookie and "samesite=strict" in cookie and "path=/portail" in cookie
        assert ("; secure" in cookie) is secure, (base_url, cookie)
        assert client.get("/portail/demandes").status_code in (200, 303)
        login_form_cookie = set_cookies(page)["ipe_portail_connexion"].lower()
        assert "httponly" in login_form_cookie and "samesite=strict" in login_form_cookie
    # Plain http anywhere else: Secure cookies, which a browser never sends back there, so no login at all.
    client = browser(portal_app, "http://portail.example")
    page = client.get("/portail/connexion")
    assert "; secure" in set_cookies(page)["ipe_portail_connexion"].lower()
    refused = client.post(
        "/portail/connexion", data={"csrf": csrf_of(page), "username": name, "password": PASSWORD}
    )
    assert refused.status_code == 403


def test_a_post_without_or_with_a_wrong_csrf_token_is_refused_with_403(
    portal_app: Any, conn: psycopg.Connection[Any]
) -> None:
    insured = declare(conn, months=38)
    client = logged_in(portal_app, employer(conn, insured.affiliation_number))
    form = client.get(f"/portail/nouvelle-demande/{insured.immatriculation}")
    good = csrf_of(form)
    fields = {"job_loss_date": days_ago(5).isoformat(), "motif_code": "licenciement_economique",
              "attestation": "on"}  # fmt: skip
    for token in (None, "", "x" * 43, good[:-1] + ("A" if good[-1] != "A" else "B")):
        sent = fields | ({"csrf": token} if token is not None else {})
        for path in (f"/portail/nouvelle-demande/{insured.immatriculation}", "/portail/deconnexion",
                     "/portail/demandes", "/portail/affiliation"):  # fmt: skip
            refused = client.post(path, data=sent | {"immatriculation": insured.immatriculation, "cle": "k"})
            assert refused.status_code == 403, (path, token, refused.text)
            assert "Formulaire expiré ou invalide" in refused.text
    assert client.post(f"/portail/nouvelle-demande/{insured.immatriculation}",
                       data=fields | {"csrf": good}).status_code == 200  # fmt: skip
    # The login form's token is its own cookie's: another value, or none, is refused too.
    fresh = browser(portal_app)
    fresh.get("/portail/connexion")
    assert (
        fresh.post(
            "/portail/connexion", data={"csrf": "forged", "username": "x", "password": "y"}
        ).status_code
        == 403
    )
    assert (
        browser(portal_app).post("/portail/connexion", data={"username": "x", "password": "y"}).status_code
        == 403
    )
    # Another session's token does not pass either.
    other = logged_in(portal_app, employer(conn, insured.affiliation_number))
    theirs = csrf_of(other.get(f"/portail/nouvelle-demande/{insured.immatriculation}"))
    assert theirs != good
    assert client.post("/portail/deconnexion", data={"csrf": theirs}).status_code == 403


def file_through_pages(client: TestClient, insured: Insured, **changes: str) -> httpx.Response:
    form = client.get(f"/portail/nouvelle-demande/{insured.immatriculation}")
    fields = {"csrf": csrf_of(form), "job_loss_date": days_ago(5).isoformat(),
              "motif_code": "licenciement_economique", "attestation": "on"} | changes  # fmt: skip
    confirmation = client.post(f"/portail/nouvelle-demande/{insured.immatriculation}", data=fields)
    if confirmation.status_code != 200 or 'name="cle"' not in confirmation.text:
        return confirmation
    key = re.search(r'name="cle" value="([^"]+)"', confirmation.text)
    assert key
    return client.post("/portail/demandes", data=fields | {"cle": key.group(1),
                                                           "immatriculation": insured.immatriculation})  # fmt: skip


def test_the_pages_give_the_apis_refusals_in_both_languages(
    portal_app: Any, conn: psycopg.Connection[Any], pipeline: Pipeline
) -> None:
    insured = declare(conn, months=38)
    client = logged_in(portal_app, employer(conn, insured.affiliation_number))
    future = file_through_pages(client, insured, job_loss_date=days_ago(-3).isoformat())
    assert future.status_code == 422 and "La date de perte d&#39;emploi est dans le futur." in future.text
    unreadable = file_through_pages(client, insured, job_loss_date="2027-02-30")
    assert unreadable.status_code == 422 and "Date de perte d&#39;emploi illisible" in unreadable.text
    unattested = file_through_pages(client, insured, attestation="")
    assert unattested.status_code == 422 and "Vous devez attester" in unattested.text
    filed = file_through_pages(client, insured)
    assert filed.status_code == 303 and filed.headers["location"].startswith("/portail/demandes/")
    client.cookies.set("ipe_langue", "ar", path="/portail")
    again = file_through_pages(client, insured)
    assert again.status_code == 409 and "يوجد طلب مفتوح لهذا المؤمن له." in again.text
    assert '<html lang="ar" dir="rtl">' in again.text
    page = client.get(filed.headers["location"])
    assert page.status_code == 200 and insured.nom in page.text
    rows = conn.execute(
        "SELECT action FROM access_log WHERE claim_id = %s ORDER BY action",
        (filed.headers["location"].rsplit("/", 1)[1].split("?")[0],),
    ).fetchall()
    assert {"claim.submit", "claim.read", "claim.decision", "claim.notifications"} <= {r[0] for r in rows}


def test_another_employers_claim_and_affiliation_are_not_found(
    portal_app: Any, conn: psycopg.Connection[Any], pipeline: Pipeline
) -> None:
    insured = declare(conn, months=38)
    owner = logged_in(portal_app, employer(conn, insured.affiliation_number))
    location = file_through_pages(owner, insured).headers["location"].split("?")[0]
    stranger = logged_in(portal_app, employer(conn, random_digits(7)))
    assert stranger.get(location).status_code == 404
    assert stranger.get(f"/portail/nouvelle-demande/{insured.immatriculation}").status_code == 404
    csrf = csrf_of(stranger.get("/portail/affiliation"))
    chosen = stranger.post(
        "/portail/affiliation", data={"csrf": csrf, "affiliation_number": insured.affiliation_number}
    )
    assert chosen.status_code == 404


def test_logout_ends_the_session_and_its_token(portal_app: Any, conn: psycopg.Connection[Any]) -> None:
    client = logged_in(portal_app, employer(conn, random_digits(7)))
    token = client.cookies.get("ipe_portail")
    history = client.get("/portail/demandes")
    assert history.status_code == 200
    out = client.post("/portail/deconnexion", data={"csrf": csrf_of(history)})
    assert out.status_code == 303 and "deconnecte" in out.headers["location"]
    assert client.get("/portail/demandes").headers["location"] == "/portail/connexion"
    assert (
        browser(portal_app).get("/api/v1/claims", headers={"Authorization": f"Bearer {token}"}).status_code
        == 401
    )


def test_a_wrong_password_shows_the_apis_message(portal_app: Any, conn: psycopg.Connection[Any]) -> None:
    name = employer(conn, random_digits(7))
    client = browser(portal_app)
    page = client.get("/portail/connexion")
    refused = client.post(
        "/portail/connexion", data={"csrf": csrf_of(page), "username": name, "password": "nope"}
    )
    assert refused.status_code == 401 and "Identifiant ou mot de passe incorrect." in refused.text


def test_history_filters_and_csv_export(
    portal_app: Any, conn: psycopg.Connection[Any], pipeline: Pipeline
) -> None:
    insured = declare(conn, months=38)
    client = logged_in(portal_app, employer(conn, insured.affiliation_number))
    file_through_pages(client, insured)
    wait_for(
        lambda: (
            f"<td>{insured.immatriculation}</td>" in client.get("/portail/demandes?situation=Valable").text
        ),
        what="a decided claim",
    )
    assert insured.nom not in client.get("/portail/demandes?situation=Rejet%C3%A9").text
    bad = client.get("/portail/demandes?du=2027-13-01")
    assert bad.status_code == 400 and "Date de filtre illisible" in bad.text
    exported = client.get(f"/portail/demandes.csv?immatriculation={insured.immatriculation}")
    assert exported.headers["content-type"].startswith("text/csv")
    lines = exported.text.lstrip("\ufeff").splitlines()
    assert lines[0].startswith(
        '"Identification","C.I.R.","Nom","Prénoms","Numero Affecté","Motif Perte Emploi"'
    )
    assert len(lines) == 2 and insured.immatriculation in lines[1]
