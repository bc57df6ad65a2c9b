"""A database outage answers 503 with Retry-After and the error body, never a bare 500."""

from __future__ import annotations

import psycopg
import pytest
from eventsourcing.persistence import OperationalError as StoreUnavailable
from fastapi import FastAPI
from fastapi.testclient import TestClient
from psycopg_pool import PoolTimeout

from services.claim_intake import errors


@pytest.mark.parametrize("failure", [psycopg.OperationalError, PoolTimeout, StoreUnavailable])
def test_an_unreachable_database_is_a_503_the_caller_may_retry(failure: type[Exception]) -> None:
    app = FastAPI()
    errors.install(app)

    @app.get("/claims")
    def claims() -> None:
        raise failure("connection refused")

    response = TestClient(app, raise_server_exceptions=False).get("/claims")
    assert response.status_code == 503 and response.headers["Retry-After"] == "2"
    assert response.json()["error"]["code"] == "service_unavailable"
