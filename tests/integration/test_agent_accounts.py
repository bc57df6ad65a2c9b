"""CNSS agents: accounts of role ``agent`` bound to an agency, who read every claim over HTTP."""

from __future__ import annotations

from typing import Any

import psycopg
import pytest

from ipe_claims.adapters.accounts import AccountError, create_account, issue_token, principal_for_token
from tests.conftest import random_digits

pytestmark = pytest.mark.integration


def test_an_agent_needs_an_agency_and_only_an_agent_has_one(conn: psycopg.Connection[Any]) -> None:
    name = f"agent-{random_digits(8)}"
    with pytest.raises(AccountError, match="--agency"):
        create_account(conn, name, "agent-password-1", "agent", [])
    with pytest.raises(AccountError, match="--agency"):
        create_account(conn, name, "agent-password-1", "agent", [], "casa anfa")  # not a code
    employer = f"emp-{random_digits(8)}"
    with pytest.raises(AccountError, match="no agency"):
        create_account(conn, employer, "employer-pass-1", "employer", ["1234567"], "CASA-01")
    create_account(conn, employer, "employer-pass-1", "employer", ["1234567"])
    create_account(conn, name, "agent-password-1", "agent", [], "CASA-01")
    login = issue_token(conn, name, "agent-password-1", 60, address="127.0.0.1")
    assert login.token is not None
    principal = principal_for_token(conn, login.token)
    assert principal is not None and (principal.role, principal.agency) == ("agent", "CASA-01")
    with pytest.raises(psycopg.errors.CheckViolation):  # the table itself keeps agencies to agents
        conn.execute("UPDATE accounts SET agency = 'X1' WHERE username = %s", (employer,))
