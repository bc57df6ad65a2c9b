"""Accounts and bearer tokens in Postgres. Passwords are hashed with Argon2id; tokens are random and
stored only as their SHA-256, so a leaked table grants nothing."""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import psycopg
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from psycopg.rows import tuple_row

ROLES = ("employer", "auditor", "analyst", "admin")
_hasher = PasswordHasher()
# Verifying against this when the user does not exist keeps the timing of both failures alike.
_DUMMY_HASH = _hasher.hash("not-a-password")


class AccountError(ValueError):
    """An account operation that cannot be done; the message says why."""


@dataclass(frozen=True)
class Principal:
    username: str
    role: str
    affiliations: frozenset[str]


def _one(conn: psycopg.Connection[Any], sql: str, params: tuple[Any, ...]) -> tuple[Any, ...] | None:
    """One row as a tuple, whatever row factory the caller's connection has."""
    return conn.cursor(row_factory=tuple_row).execute(sql, params).fetchone()


def _token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def create_account(
    conn: psycopg.Connection[Any], username: str, password: str, role: str, affiliations: list[str]
) -> None:
    if role not in ROLES:
        raise AccountError(f"role must be one of {', '.join(ROLES)}")
    if role == "employer" and not affiliations:
        raise AccountError("an employer account needs at least one --affiliation")
    if len(password) < 8:
        raise AccountError("the password must have at least 8 characters")
    with conn.transaction():
        if _one(conn, "SELECT 1 FROM accounts WHERE username = %s", (username,)):
            raise AccountError(f"account {username!r} already exists")
        conn.execute(
            "INSERT INTO accounts (username, password_hash, role) VALUES (%s, %s, %s)",
            (username, _hasher.hash(password), role),
        )
        for affiliation in affiliations:
            conn.execute(
                "INSERT INTO affiliations (affiliation_number) VALUES (%s) ON CONFLICT DO NOTHING",
                (affiliation,),
            )
            conn.execute(
                "INSERT INTO account_affiliations (username, affiliation_number) VALUES (%s, %s) "
                "ON CONFLICT DO NOTHING",
                (username, affiliation),
            )


def issue_token(conn: psycopg.Connection[Any], username: str, password: str, ttl_seconds: int) -> str | None:
    """A new bearer token for valid credentials of an enabled account, else None."""
    row = _one(conn, "SELECT password_hash FROM accounts WHERE username = %s AND NOT disabled", (username,))
    try:
        _hasher.verify(row[0] if row else _DUMMY_HASH, password)
    except (VerificationError, InvalidHashError):
        return None
    if row is None:
        return None
    token = secrets.token_urlsafe(32)
    with conn.transaction():
        conn.execute("DELETE FROM api_tokens WHERE username = %s AND expires_at < now()", (username,))
        conn.execute(
            "INSERT INTO api_tokens (token_hash, username, expires_at) VALUES (%s, %s, %s)",
            (_token_hash(token), username, datetime.now(UTC) + timedelta(seconds=ttl_seconds)),
        )
    return token


def principal_for_token(conn: psycopg.Connection[Any], token: str) -> Principal | None:
    row = _one(
        conn,
        "SELECT a.username, a.role, coalesce(array_agg(aa.affiliation_number) "
        "FILTER (WHERE aa.affiliation_number IS NOT NULL), '{}') "
        "FROM api_tokens t JOIN accounts a USING (username) "
        "LEFT JOIN account_affiliations aa USING (username) "
        "WHERE t.token_hash = %s AND t.expires_at > now() AND NOT a.disabled GROUP BY a.username, a.role",
        (_token_hash(token),),
    )
    return Principal(row[0], row[1], frozenset(row[2])) if row else None
