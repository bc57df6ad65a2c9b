"""The API's documentation works without internet (/docs and /redoc load only assets the API serves), and
the OpenAPI says what the API accepts: dates, the motif list, the bearer scheme, examples; a 405 says Allow.

The app is built but not started (no lifespan): none of this touches the database.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient

from ipe_claims.domain.motifs import MOTIFS
from ipe_claims.settings import Settings
from services.claim_intake.api import create_app

_ASSET = re.compile(r"""(?:src|href)\s*=\s*["']([^"']+)["']""")


@pytest.fixture(scope="module")
def client() -> Iterator[TestClient]:
    settings = Settings().changed(
        database={"url": "postgresql://nobody@127.0.0.1:1/none"},
        kafka={"bootstrap_servers": "127.0.0.1:1"},
    )
    yield TestClient(create_app(settings), raise_server_exceptions=False)


@pytest.fixture(scope="module")
def openapi(client: TestClient) -> dict[str, Any]:
    return client.get("/openapi.json").json()


@pytest.mark.parametrize(
    ("page", "script"), [("/docs", "swagger-ui-bundle.js"), ("/redoc", "redoc.standalone.js")]
)
def test_docs_pages_load_only_assets_the_api_serves(client: TestClient, page: str, script: str) -> None:
    html = client.get(page).text
    assets = _ASSET.findall(html)
    assert any(asset.endswith(script) for asset in assets), assets
    assert not re.search(r"https?://|//[a-z]", html), "a page that needs the internet"
    for asset in assets:
        response = client.get(asset)
        assert response.status_code == 200, asset
        assert len(response.content) > 1000 or asset.endswith(".png"), asset
    bundle = client.get(next(asset for asset in assets if asset.endswith(script)))
    assert "javascript" in bundle.headers["content-type"]


def test_dates_are_dates_and_motifs_are_the_list(openapi: dict[str, Any]) -> None:
    schemas = openapi["components"]["schemas"]
    claim = schemas["ClaimRequest"]["properties"]
    assert claim["job_loss_date"] == claim["job_loss_date"] | {"type": "string", "format": "date"}
    assert claim["motif_code"]["enum"] == list(MOTIFS)
    assert claim["attestation"]["enum"] == [True]
    assert schemas["ReturnToWorkRequest"]["properties"]["return_date"]["format"] == "date"
    overview = openapi["paths"]["/reports/overview"]["get"]["parameters"]
    assert {p["name"]: p["schema"]["anyOf"][0].get("format") for p in overview} == {
        "date_from": "date",
        "date_to": "date",
    }


def test_examples_are_valid_requests(openapi: dict[str, Any]) -> None:
    schemas = openapi["components"]["schemas"]
    for name in ("ClaimRequest", "TokenRequest", "ReturnToWorkRequest"):
        (example,) = schemas[name]["examples"]
        assert set(example) == set(schemas[name]["required"]), name
    assert schemas["ClaimRequest"]["examples"][0]["motif_code"] in MOTIFS


def test_the_token_is_a_bearer_scheme_not_a_header_parameter(openapi: dict[str, Any]) -> None:
    assert openapi["components"]["securitySchemes"] == {
        "bearer": openapi["components"]["securitySchemes"]["bearer"] | {"type": "http", "scheme": "bearer"}
    }
    operations = [(path, op) for path, ops in openapi["paths"].items() for op in ops.values()]
    secured = {path for path, op in operations if op.get("security") == [{"bearer": []}]}
    assert "/api/v1/claims" in secured and "/reports/overview" in secured
    assert secured.isdisjoint({"/healthz", "/api/v1/auth/token", "/api/v1/motifs"})
    for path, op in operations:
        names = {parameter["name"].lower() for parameter in op.get("parameters", [])}
        assert "authorization" not in names, path


@pytest.mark.parametrize("header", [None, "Basic abc", "Bearer ", "bearer"])
def test_no_token_is_still_the_bilingual_401(client: TestClient, header: str | None) -> None:
    headers = {"Authorization": header} if header is not None else {}
    response = client.post("/api/v1/claims", json={}, headers=headers)
    assert response.status_code == 401 and response.headers["WWW-Authenticate"] == "Bearer"
    assert response.json()["error"]["code"] == "unauthorized"
    assert response.json()["error"]["message_ar"]


@pytest.mark.parametrize(
    ("path", "allowed"),
    [
        ("/api/v1/claims", "GET, POST"),
        ("/api/v1/claims/preview", "POST"),
        ("/api/v1/claims/0b6c4f0e-7c1e-4f39-9d0e-7b7b1e7e2a11", "GET"),
        ("/healthz", "GET"),
        ("/docs-assets/swagger-ui.css", "GET, HEAD"),
    ],
)
def test_a_405_says_which_methods_are_allowed(client: TestClient, path: str, allowed: str) -> None:
    response = client.request("TRACE", path)
    assert response.status_code == 405
    assert response.headers["Allow"] == allowed
    assert response.json()["error"]["code"] == "method_not_allowed"
    assert allowed in response.json()["error"]["message_fr"]


def test_schemathesis_toml_names_operations_the_api_has(openapi: dict[str, Any]) -> None:
    """Each operation rule of schemathesis.toml (docs/api.md) selects at least one operation: a renamed
    route would otherwise silently fall back to the default checks."""
    import re
    import tomllib
    from pathlib import Path

    rules = tomllib.loads((Path(__file__).parents[2] / "schemathesis.toml").read_text())["operations"]
    names = [f"{method.upper()} {path}" for path, item in openapi["paths"].items() for method in item]
    assert len(rules) >= 4
    for rule in rules:
        if "include-name" in rule:
            assert rule["include-name"] in names, rule
        else:
            assert any(re.search(rule["include-name-regex"], name) for name in names), rule
