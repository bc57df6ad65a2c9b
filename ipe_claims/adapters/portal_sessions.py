"""The employer portal's server-side sessions. The cookie holds a bearer token of the account (random,
stored only as its SHA-256 in ``api_tokens``); ``portal_sessions`` keeps, under the same hash, the CSRF
synchronizer token and the affiliation the employer chose. Logout deletes the token, and the row with it."""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from typing import Any

import psycopg
from psycopg.rows import tuple_row

from ipe_claims.adapters.accounts import Principal, principal_for_token, token_hash


@dataclass(frozen=True)
class PortalSession:
    token: str
    principal: Principal
    csrf_token: str
    affiliation_number: str | None


def open_session(conn: psycopg.Connection[Any], token: str) -> None:
    """A session for a freshly issued token; a single-affiliation employer has it chosen already."""
    principal = principal_for_token(conn, token)
    if principal is None:
        raise LookupError("open_session takes a token issue_token has just made; this one names no account")
    only = next(iter(principal.affiliations)) if len(principal.affiliations) == 1 else None
    conn.execute(
        "INSERT INTO portal_sessions (token_hash, csrf_token, affiliation_number) VALUES (%s, %s, %s)",
        (token_hash(token), secrets.token_urlsafe(32), only),
    )


def find_session(conn: psycopg.Connection[Any], token: str) -> PortalSession | None:
    """The live session of this cookie value, else None (unknown, expired, revoked, account disabled)."""
    principal = principal_for_token(conn, token)
    if principal is None:
        return None
    row = (
        conn.cursor(row_factory=tuple_row)
        .execute(
            "SELECT csrf_token, affiliation_number FROM portal_sessions WHERE token_hash = %s",
            (token_hash(token),),
        )
        .fetchone()
    )
    if row is None:  # an API token, not a portal session
        return None
    chosen = row[1] if row[1] in principal.affiliations else None
    return PortalSession(token, principal, row[0], chosen)


def choose_affiliation(conn: psycopg.Connection[Any], token: str, affiliation_number: str) -> None:
    conn.execute(
        "UPDATE portal_sessions SET affiliation_number = %s WHERE token_hash = %s",
        (affiliation_number, token_hash(token)),
    )


def close_session(conn: psycopg.Connection[Any], token: str) -> None:
    """Logout: the token goes, and its session row with it (ON DELETE CASCADE)."""
    conn.execute("DELETE FROM api_tokens WHERE token_hash = %s", (token_hash(token),))
