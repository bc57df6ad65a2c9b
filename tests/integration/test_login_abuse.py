"""Login abuse: a limit per client address before any password check, a cap on checks at once, no row
for invented names, and an account that a stranger cannot lock for everyone."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import psycopg
import pytest
from fastapi.testclient import TestClient

from ipe_claims.adapters.accounts import create_account
from ipe_claims.application.claims import ClaimsApplication
from ipe_claims.settings import Settings
from services.claim_intake.api import create_app
from tests.conftest import random_digits

pytestmark = pytest.mark.integration
PASSWORD = "a-good-password"


@contextmanager
def from_address(app: Any, host: str) -> Iterator[TestClient]:
    with TestClient(app, client=(host, 40000)) as client:
        yield client


def login(client: TestClient, username: str, password: str = PASSWORD) -> Any:
    return client.post("/api/v1/auth/token", json={"username": username, "password": password})


def account(conn: psycopg.Connection[Any]) -> str:
    username = f"employer-{random_digits(9)}"
    create_account(conn, username, PASSWORD, "employer", [random_digits(7)])
    return username


def code(response: Any, status: int) -> str:
    assert response.status_code == status, response.text
    return str(response.json()["error"]["code"])


def test_an_address_is_limited_before_any_check_and_others_are_not(
    settings: Settings, claims_app: ClaimsApplication, conn: psycopg.Connection[Any]
) -> None:
    app = create_app(settings.changed(login={"attempts_per_address_per_minute": 5}), claims_app)
    username = account(conn)
    with from_address(app, "10.1.1.1") as attacker, from_address(app, "10.1.1.2") as neighbour:
        for _ in range(5):  # a different invented name each time: no account's count is involved
            assert code(login(attacker, f"nobody-{random_digits(9)}"), 401) == "invalid_credentials"
        refused = login(attacker, username)  # even the right password is not checked from there now
        assert code(refused, 429) == "login_rate_limited" and 1 <= int(refused.headers["Retry-After"]) <= 60
        assert conn.execute(
            "SELECT count(*) FROM login_failures WHERE username = %s", (username,)
        ).fetchone() == (0,)
        for _ in range(8):  # successes do not count against an address (an office behind one NAT)
            assert login(neighbour, username).status_code == 200


def test_beyond_the_cap_on_password_checks_the_answer_is_503_without_a_check(
    settings: Settings, claims_app: ClaimsApplication, conn: psycopg.Connection[Any]
) -> None:
    app = create_app(settings.changed(login={"max_password_checks": 1}), claims_app)
    username = account(conn)
    with from_address(app, "10.2.2.2") as client:
        with app.state.password_checks.slot() as taken:  # the one slot is busy
            assert taken
            busy = login(client, username, "wrong-password")
            assert code(busy, 503) == "overloaded" and busy.headers["Retry-After"] == "1"
        assert conn.execute(
            "SELECT count(*) FROM login_failures WHERE username = %s", (username,)
        ).fetchone() == (0,)
        assert len(app.state.login_addresses) == 1 and app.state.login_addresses.take("10.2.2.2") == 0
        assert login(client, username).status_code == 200  # the slot is free again


def test_invented_names_add_no_row_and_are_answered_as_accounts_are(
    settings: Settings, claims_app: ClaimsApplication, conn: psycopg.Connection[Any]
) -> None:
    app = create_app(settings.changed(login={"attempts_per_address_per_minute": 100}), claims_app)
    before = conn.execute("SELECT count(*) FROM login_failures").fetchone()
    real, ghost = account(conn), f"ghost-{random_digits(9)}"
    with from_address(app, "10.3.3.3") as client:
        for _ in range(15):
            assert login(client, f"invented-{random_digits(12)}", "wrong-password").status_code == 401
        answers = [
            [login(client, name, "wrong-password").json()["error"]["code"] for _ in range(4)]
            for name in (real, ghost)
        ]
    assert answers[0] == answers[1] == ["invalid_credentials"] * 3 + ["login_throttled"]
    after = conn.execute("SELECT count(*) FROM login_failures").fetchone()
    assert after[0] - before[0] == 1  # the real account's row; no invented name has one


def test_a_stranger_locks_an_account_for_their_own_address_only(
    settings: Settings, claims_app: ClaimsApplication, conn: psycopg.Connection[Any]
) -> None:
    app = create_app(settings, claims_app)
    username = account(conn)
    conn.execute("INSERT INTO login_failures (username, address, failures, last_failure_at) "
                 "VALUES (%s, '10.4.4.4', 9, now() - interval '1 hour')", (username,))  # fmt: skip
    with from_address(app, "10.4.4.4") as stranger, from_address(app, "10.4.4.5") as owner:
        assert code(login(stranger, username, "wrong-password"), 401) == "invalid_credentials"  # the tenth
        assert code(login(stranger, username), 429) == "account_locked"
        assert login(owner, username).status_code == 200  # the owner, elsewhere, is not locked out

        # Many addresses failing (a campaign, not one stranger) lock the account for everyone.
        for n in range(10):
            conn.execute("INSERT INTO login_failures (username, address, failures, last_failure_at) "
                         "VALUES (%s, %s, 10, now())", (username, f"10.5.5.{n}"))  # fmt: skip
        locked = login(owner, username)
        assert code(locked, 429) == "account_locked" and 800 < int(locked.headers["Retry-After"]) <= 900
