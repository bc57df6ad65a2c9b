"""Every route fuzzed with hypothesis, by every role and by strangers: whatever the path, query, headers
and JSON body — lone surrogates, NUL, dates at and beyond the calendar's edges, wrong types, deep nesting —
the answer is never a 5xx, and a refusal always has the one error body.

The schemathesis run (test_intake_schemathesis.py) follows the published schema; this one aims at what the
schema does not say: the values a rule must judge and the text a database must store."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, timedelta, timezone
from typing import Any
from urllib.parse import quote

import httpx
import psycopg
import pytest
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ipe_claims.application.claims import ClaimsApplication
from ipe_claims.settings import Settings
from services.claim_intake.api import create_app
from services.claim_intake.routes.history import encode_cursor
from tests.conftest import Insured, declare
from tests.integration.test_api import claim_body, employer_of, user
from tests.integration.test_one_bad_request import EDGE_DATES

pytestmark = pytest.mark.integration
FUZZ = settings(max_examples=100, deadline=None, suppress_health_check=list(HealthCheck), database=None)
NASTY = [*EDGE_DATES, "\ud800", "a\udfffb", "\ud83d", "\x00", "=HYPERLINK(\"http://x\")", "<script>x</script>",
         "' OR '1'='1", "1" * 300, "", " ", "null", "-1", "1e309", "😀", "١٢٣"]  # fmt: skip


@dataclass(frozen=True)
class World:
    client: TestClient
    insured: Insured
    claim_id: str
    headers: dict[str, dict[str, str]]  # by role, and strangers


@pytest.fixture(scope="module")
def world(settings: Settings, claims_app: ClaimsApplication) -> Iterator[World]:
    with TestClient(create_app(settings, claims_app), raise_server_exceptions=False) as client:
        with psycopg.connect(settings.database.url, autocommit=True) as conn:
            insured = declare(conn, months=40)
            employer = employer_of(client, conn, insured)
            others = {role: user(client, conn, role).headers for role in ("auditor", "analyst", "admin")}
        # Its open claim: a fuzzed submission that happens to be valid is refused (409), so no claim with an
        # odd date is left for the projector of other tests.
        created = client.post("/api/v1/claims", json=claim_body(insured), headers=employer.headers)
        assert created.status_code == 201, created.text
        headers = {"employer": employer.headers, **others, "stranger": {"Authorization": "Bearer nope"},
                   "anonymous": {}}  # fmt: skip
        yield World(client, insured, created.json()["claim_id"], headers)


def lone_surrogate() -> st.SearchStrategy[str]:
    surrogate = st.characters(min_codepoint=0xD800, max_codepoint=0xDFFF)
    return st.builds(lambda a, s, b: a + s + b, st.text(max_size=4), surrogate, st.text(max_size=4))


def text() -> st.SearchStrategy[str]:
    """Any text, lone surrogates included, and the values most likely to break a rule or a statement."""
    return st.one_of(lone_surrogate(), st.sampled_from(NASTY), st.text(st.characters(exclude_categories=()),
                                                                        max_size=30))  # fmt: skip


def dates() -> st.SearchStrategy[str]:
    """Dates, the calendar's first and last days most often (they overflow when a day is added)."""
    return st.one_of(st.sampled_from(["0001-01-01", "9999-12-31"]), st.sampled_from(EDGE_DATES),
                     st.dates().map(lambda d: d.isoformat()))  # fmt: skip


def url_text() -> st.SearchStrategy[str]:
    """Text a URL can carry (no surrogate: httpx cannot encode one; the server decodes with replacement)."""
    return st.one_of(st.sampled_from([n for n in NASTY if n.encode(errors="ignore").decode() == n]),
                     st.text(max_size=30))  # fmt: skip


def json_value() -> st.SearchStrategy[Any]:
    leaves = st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | text()
    return st.recursive(
        leaves,
        lambda inner: st.lists(inner, max_size=3) | st.dictionaries(text(), inner, max_size=3),
        max_leaves=6,
    )


def body_of(valid: dict[str, Any], fields: dict[str, st.SearchStrategy[Any]]) -> st.SearchStrategy[Any]:
    """Most often a valid body with one field changed (to a likely value, any text or any JSON) or one extra
    field; else the route's fields each drawn on its own, or present or not; sometimes anything at all."""
    names = sorted(valid)

    def changed(name: str) -> st.SearchStrategy[Any]:
        spoilt = st.sampled_from(["\ud800", "\udfff", "\x00"]).map(lambda bad: f"{valid[name]}{bad}")
        return st.one_of(fields[name], spoilt, text(), json_value())

    one_changed = st.sampled_from(names).flatmap(lambda name: changed(name).map(lambda v: valid | {name: v}))
    one_extra = st.dictionaries(text(), json_value(), min_size=1, max_size=1).map(lambda extra: valid | extra)
    each = st.fixed_dictionaries({}, optional={name: st.one_of(fields[name], text(), json_value())
                                               for name in names})  # fmt: skip
    return st.one_of(one_changed, one_changed, one_extra, each, json_value())


def sane(response: httpx.Response) -> None:
    assert response.status_code < 500, (response.request.method, response.request.url, response.text[:300])
    if response.status_code >= 400:
        error = response.json()["error"]
        assert error["code"] and error["message_fr"] and error["message_ar"], response.text
        assert set(error) == {"code", "message_fr", "message_ar", "field"}


def who(world: World, *likely: str) -> st.SearchStrategy[dict[str, str]]:
    """Anyone, the roles a route serves (``likely``) most often."""
    roles = st.one_of(st.sampled_from(likely), st.sampled_from(sorted(world.headers))) if likely else \
        st.sampled_from(sorted(world.headers))  # fmt: skip
    return roles.map(lambda role: world.headers[role])


def segment() -> st.SearchStrategy[str]:
    """A path segment, percent-encoded as a client sends it."""
    return url_text().map(lambda value: quote(value, safe=""))


def claim_ids(world: World) -> st.SearchStrategy[str]:
    return st.one_of(st.just(world.claim_id), st.uuids().map(str), segment())


def post_json(world: World, path: str, body: Any, headers: dict[str, str]) -> httpx.Response:
    content = json.dumps(
        body
    )  # ensure_ascii: lone surrogates travel as \ud800 escapes, as in any JSON client
    return world.client.post(path, content=content, headers=headers | {"Content-Type": "application/json"})


def _claim_fields(world: World) -> dict[str, st.SearchStrategy[Any]]:
    valid = claim_body(world.insured)
    return {"affiliation_number": st.sampled_from([valid["affiliation_number"], "0000000"]),
            "immatriculation": st.sampled_from([valid["immatriculation"], "000000000"]), "job_loss_date": dates(),
            "motif_code": st.sampled_from(["licenciement_economique", "demission", "caprice"]),
            "attestation": st.booleans()}  # fmt: skip


def fuzz(world: World, strategy: st.SearchStrategy[Any], call: Callable[[Any], httpx.Response]) -> None:
    @FUZZ
    @given(strategy)
    def run(drawn: Any) -> None:
        sane(call(drawn))

    run()


def test_token_route_fuzzed(world: World) -> None:
    fields = {"username": st.sampled_from(["admin", "x"]), "password": st.just("x")}
    valid = {"username": "nobody", "password": "x"}
    fuzz(world, body_of(valid, fields), lambda body: post_json(world, "/api/v1/auth/token", body, {}))


@pytest.mark.parametrize("path", ["/api/v1/claims", "/api/v1/claims/preview"])
def test_claim_submission_and_preview_fuzzed(world: World, path: str) -> None:
    body = body_of(claim_body(world.insured), _claim_fields(world))
    drawn = st.tuples(body, who(world, "employer"), st.none() | url_text().filter(str.isascii))

    def call(args: tuple[Any, dict[str, str], str | None]) -> httpx.Response:
        body, headers, key = args
        return post_json(world, path, body, headers | ({"Idempotency-Key": key} if key else {}))

    fuzz(world, drawn, call)


def test_return_to_work_fuzzed(world: World) -> None:
    body = body_of({"return_date": "2026-01-01"}, {"return_date": dates()})
    drawn = st.tuples(claim_ids(world), body, who(world, "employer", "admin"))
    fuzz(
        world,
        drawn,
        lambda args: post_json(world, f"/api/v1/claims/{args[0]}/return-to-work", args[1], args[2]),
    )


def cursors() -> st.SearchStrategy[str]:
    """Cursors as this API writes them, at any instant the calendar holds, in the widest offsets."""
    offsets = st.sampled_from([UTC, timezone(timedelta(hours=14)), timezone(-timedelta(hours=14))])
    return st.builds(encode_cursor, st.datetimes(timezones=offsets), st.uuids())


def test_claim_history_and_export_fuzzed(world: World) -> None:
    day = dates()
    filters = st.fixed_dictionaries(
        {}, optional={"from": day, "to": day, "cursor": cursors(), "limit": st.integers(1, 500).map(str)}
    )
    junk = st.fixed_dictionaries({}, optional={
        "from": day | url_text(), "to": day | url_text(), "affiliation_number": url_text(),
        "immatriculation": url_text(), "situation": st.sampled_from(["En cours", "Valable", "Rejeté", "x"]),
        "cursor": cursors() | url_text(), "limit": st.integers(-5, 10_000).map(str) | url_text()})  # fmt: skip
    accept = st.sampled_from([{}, {"Accept": "text/csv"}, {"Accept": "application/json"}])
    drawn = st.tuples(filters | filters | junk, who(world, "employer", "auditor"), accept)
    fuzz(
        world,
        drawn,
        lambda args: world.client.get("/api/v1/claims", params=args[0], headers=args[1] | args[2]),
    )


@pytest.mark.parametrize("suffix", ["", "/notifications", "/decision", "/events"])
def test_claim_reads_fuzzed(world: World, suffix: str) -> None:
    drawn = st.tuples(claim_ids(world), who(world, "employer", "auditor"))
    fuzz(world, drawn, lambda args: world.client.get(f"/api/v1/claims/{args[0]}{suffix}", headers=args[1]))


def test_report_and_reference_routes_fuzzed(world: World) -> None:
    day = dates() | dates() | url_text()
    report = st.fixed_dictionaries({}, optional={"date_from": day, "date_to": day})
    drawn = st.tuples(report, segment(), who(world, "analyst", "auditor", "employer"))

    def call(args: tuple[dict[str, str], str, dict[str, str]]) -> httpx.Response:
        params, affiliation, headers = args
        for path in ("/api/v1/motifs", "/api/v1/affiliations", f"/api/v1/affiliations/{affiliation}/insured",
                     f"/api/v1/affiliations/{world.insured.affiliation_number}/insured"):  # fmt: skip
            sane(world.client.get(path, headers=headers))
        return world.client.get("/reports/overview", params=params, headers=headers)

    fuzz(world, drawn, call)
