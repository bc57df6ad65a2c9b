"""Accounts and bearer tokens in Postgres. Passwords are hashed with Argon2id; tokens are random and
stored only as their SHA-256, so a leaked table grants nothing.

Failed logins are counted per account *and client address* in ``login_failures``: after a few, each
further try from that address must wait longer, and then the account is locked for that address only, so
a stranger cannot lock someone out. Only many failures from many addresses (``ACCOUNT_LOCK_AFTER``) lock
the account for everyone. Names that are not accounts are counted alike, so the answers do not tell which
accounts exist, but in a bounded structure in memory (``UnknownNames``), never in the table."""

from __future__ import annotations

import hashlib
import math
import re
import secrets
import threading
from collections import OrderedDict
from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import psycopg
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from psycopg.rows import tuple_row

# `portal`: an upstream portal that publishes on its Kafka topic for the affiliations it holds (docs/security.md).
# `agent`: a CNSS agent of one agency, who records dossier pieces and rules on reviews (docs/security.md).
ROLES = ("employer", "auditor", "analyst", "admin", "portal", "agent")
AGENCY_CODE = re.compile(r"^[A-Z0-9][A-Z0-9-]{1,15}$")
FREE_FAILURES = 3  # failed logins answered at once; from then on, 1 s, 2 s, 4 s … (at most 60 s) apart
LOCK_AFTER = 10  # consecutive failures from one address that lock the account for that address
ACCOUNT_LOCK_AFTER = 100  # failures within LOCK_FOR, from all addresses, that lock it for everyone
LOCK_FOR = timedelta(minutes=15)
_MAX_DELAY_SECONDS = 60
_hasher = PasswordHasher()
# Verifying against this when the user does not exist keeps the timing of both failures alike.
_DUMMY_HASH = _hasher.hash("not-a-password")
_LOGIN_LOCK = 0x4C0C  # advisory-lock class: one login attempt per username at a time


class AccountError(ValueError):
    """An account operation that cannot be done; the message says why."""


@dataclass(frozen=True)
class Principal:
    username: str
    role: str
    affiliations: frozenset[str]
    agency: str | None = None  # an agent's agency code; None for every other role


@dataclass(frozen=True)
class Login:
    """The outcome of a login: a token, or why not. ``retry_after`` > 0 means the try was not even checked."""

    token: str | None
    retry_after: int = 0
    locked: bool = False


@dataclass(frozen=True)
class AccountRow:
    username: str
    role: str
    disabled: bool
    affiliations: tuple[str, ...]
    locked_until: datetime | None


def _one(
    conn: psycopg.Connection[Any], sql: str, params: tuple[Any, ...] | dict[str, Any]
) -> tuple[Any, ...] | None:
    """One row as a tuple, whatever row factory the caller's connection has."""
    return conn.cursor(row_factory=tuple_row).execute(sql, params).fetchone()


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def _check_password(password: str) -> None:
    if len(password) < 8:
        raise AccountError("the password must have at least 8 characters")


def create_account(
    conn: psycopg.Connection[Any], username: str, password: str, role: str, affiliations: list[str],
    agency: str | None = None,
) -> None:  # fmt: skip
    if role not in ROLES:
        raise AccountError(f"role must be one of {', '.join(ROLES)}")
    if role == "agent" and not (agency and AGENCY_CODE.match(agency)):
        raise AccountError("an agent account needs --agency, its agency's code (2 to 16 capitals or digits)")
    if role != "agent" and agency:
        raise AccountError(f"a {role} account has no agency")
    if role == "employer" and not affiliations:
        raise AccountError("an employer account needs at least one --affiliation")
    if role not in ("employer", "portal") and affiliations:
        raise AccountError(f"a {role} account has no affiliations")
    if not username or len(username) > 150:
        raise AccountError("the username must have 1 to 150 characters")
    _check_password(password)
    with conn.transaction():
        if _one(conn, "SELECT 1 FROM accounts WHERE username = %s", (username,)):
            raise AccountError(f"account {username!r} already exists")
        conn.execute(
            "INSERT INTO accounts (username, password_hash, role, agency) VALUES (%s, %s, %s, %s)",
            (username, _hasher.hash(password), role, agency),
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


def list_accounts(conn: psycopg.Connection[Any]) -> list[AccountRow]:
    rows = (
        conn.cursor(row_factory=tuple_row)
        .execute(
            "SELECT a.username, a.role, a.disabled, coalesce(array_agg(aa.affiliation_number ORDER BY "
            "aa.affiliation_number) FILTER (WHERE aa.affiliation_number IS NOT NULL), '{}'), "
            "(SELECT max(f.locked_until) FROM login_failures f WHERE f.username = a.username AND f.locked_until > now()) "
            "FROM accounts a LEFT JOIN account_affiliations aa USING (username) "
            "GROUP BY a.username, a.role, a.disabled ORDER BY a.username"
        )
        .fetchall()
    )
    return [AccountRow(r[0], r[1], r[2], tuple(r[3]), r[4]) for r in rows]


def _must_exist(conn: psycopg.Connection[Any], username: str) -> None:
    if _one(conn, "SELECT 1 FROM accounts WHERE username = %s", (username,)) is None:
        raise AccountError(f"no account {username!r}")


def set_disabled(conn: psycopg.Connection[Any], username: str, disabled: bool) -> None:
    """Disable (and revoke every token of) an account, or enable it again."""
    with conn.transaction():
        _must_exist(conn, username)
        conn.execute("UPDATE accounts SET disabled = %s WHERE username = %s", (disabled, username))
        conn.execute("DELETE FROM api_tokens WHERE username = %s", (username,))


def reset_password(conn: psycopg.Connection[Any], username: str, password: str) -> None:
    """A new password; also lifts a lock and revokes the account's tokens."""
    _check_password(password)
    with conn.transaction():
        _must_exist(conn, username)
        conn.execute(
            "UPDATE accounts SET password_hash = %s WHERE username = %s", (_hasher.hash(password), username)
        )
        conn.execute("DELETE FROM api_tokens WHERE username = %s", (username,))
        conn.execute("DELETE FROM login_failures WHERE username = %s", (username,))


def _wait_seconds(failures: int, last_failure_at: datetime, locked_until: datetime | None,
                  now: datetime) -> tuple[int, bool]:  # fmt: skip
    """How long this username must still wait before a try is checked, and whether it is a lock."""
    if locked_until is not None:  # a lock that has run out lets the next try through
        return (math.ceil((locked_until - now).total_seconds()), True) if locked_until > now else (0, False)
    if failures < FREE_FAILURES:
        return 0, False
    delay = min(2 ** (failures - FREE_FAILURES), _MAX_DELAY_SECONDS)
    remaining = (last_failure_at + timedelta(seconds=delay) - now).total_seconds()
    return max(0, math.ceil(remaining)), False


class UnknownNames:
    """Failure counts of names that are not accounts, per (name, address), as ``login_failures`` keeps them
    for accounts; at most ``size`` entries (the oldest are forgotten first): invented names cost no row."""

    def __init__(self, size: int = 10_000) -> None:
        self.size = size
        self._entries: OrderedDict[tuple[str, str], tuple[int, datetime, datetime | None]] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, username: str, address: str) -> tuple[int, datetime, datetime | None] | None:
        with self._lock:
            return self._entries.get((username, address))

    def failed(self, username: str, address: str, failures: int, now: datetime) -> None:
        with self._lock:
            self._entries.pop((username, address), None)
            self._entries[(username, address)] = (
                failures,
                now,
                now + LOCK_FOR if failures >= LOCK_AFTER else None,
            )
            while len(self._entries) > self.size:
                self._entries.popitem(last=False)

    def __len__(self) -> int:
        return len(self._entries)


UNKNOWN = UnknownNames()  # one per process


def issue_token(conn: psycopg.Connection[Any], username: str, password: str, ttl_seconds: int,
                address: str = "", unknown: UnknownNames = UNKNOWN) -> Login:  # fmt: skip
    """A new bearer token for valid credentials of an enabled account, unless the name must wait."""
    with conn.transaction():
        # One attempt per username at a time, so parallel guesses cannot slip past the wait.
        conn.execute("SELECT pg_advisory_xact_lock(%s, hashtext(%s))", (_LOGIN_LOCK, username))
        now, account, hashed = _one(
            conn,
            "SELECT now(), a.username IS NOT NULL, (SELECT password_hash FROM accounts WHERE username = %(u)s "
            "AND NOT disabled) FROM (SELECT 1) one LEFT JOIN accounts a ON a.username = %(u)s",
            {"u": username},
        )  # type: ignore[misc]
        if account:
            failed = _one(conn, "SELECT failures, last_failure_at, locked_until FROM login_failures "
                          "WHERE username = %s AND address = %s", (username, address))  # fmt: skip
            everywhere = _one(conn, "SELECT max(last_failure_at) FROM login_failures WHERE username = %s "
                              "AND last_failure_at > %s - %s HAVING sum(failures) >= %s",
                              (username, now, LOCK_FOR, ACCOUNT_LOCK_AFTER))  # fmt: skip
            if everywhere is not None:  # a guessing campaign from many addresses: locked for everyone
                return Login(None, retry_after=math.ceil((everywhere[0] + LOCK_FOR - now).total_seconds()),
                             locked=True)  # fmt: skip
        else:
            failed = unknown.get(username, address)
        failures = 0
        if failed is not None:
            failures, last_failure_at, locked_until = failed
            wait, locked = _wait_seconds(failures, last_failure_at, locked_until, now)
            if wait:
                return Login(None, retry_after=wait, locked=locked)
            if locked_until is not None:  # a lock that has run out starts the count afresh
                failures = 0
        try:
            _hasher.verify(hashed or _DUMMY_HASH, password)
            ok = hashed is not None
        except (VerificationError, InvalidHashError):
            ok = False
        if not ok:
            failures += 1
            if not account:
                unknown.failed(username, address, failures, now)
                return Login(None)
            conn.execute(
                "INSERT INTO login_failures (username, address, failures, last_failure_at, locked_until) "
                "VALUES (%(u)s, %(a)s, %(f)s, now(), CASE WHEN %(f)s >= %(lock)s THEN now() + %(for)s END) "
                "ON CONFLICT (username, address) DO UPDATE SET failures = EXCLUDED.failures, "
                "last_failure_at = EXCLUDED.last_failure_at, locked_until = EXCLUDED.locked_until",
                {"u": username, "a": address, "f": failures, "lock": LOCK_AFTER, "for": LOCK_FOR},
            )
            return Login(None)
        token = secrets.token_urlsafe(32)
        conn.execute("DELETE FROM login_failures WHERE username = %s AND address = %s", (username, address))
        conn.execute("DELETE FROM api_tokens WHERE username = %s AND expires_at < now()", (username,))
        conn.execute(
            "INSERT INTO api_tokens (token_hash, username, expires_at) VALUES (%s, %s, now() + %s)",
            (token_hash(token), username, timedelta(seconds=ttl_seconds)),
        )
    return Login(token)


_PRINCIPAL = (
    "SELECT a.username, a.role, a.agency, coalesce(array_agg(aa.affiliation_number) "
    "FILTER (WHERE aa.affiliation_number IS NOT NULL), '{}') FROM accounts a "
    "LEFT JOIN account_affiliations aa USING (username) "
)


def principal_for_token(conn: psycopg.Connection[Any], token: str) -> Principal | None:
    row = _one(
        conn,
        _PRINCIPAL + "JOIN api_tokens t ON t.username = a.username "
        "WHERE t.token_hash = %s AND t.expires_at > now() AND NOT a.disabled GROUP BY a.username",
        (token_hash(token),),
    )
    return Principal(row[0], row[1], frozenset(row[3]), row[2]) if row else None


def principals_for_tokens(conn: psycopg.Connection[Any], tokens: Collection[str]) -> dict[str, Principal]:
    """``principal_for_token`` of many tokens in one query: those that name an enabled account now."""
    hashes = {token_hash(token): token for token in tokens}
    rows = conn.cursor(row_factory=tuple_row).execute(
        "SELECT t.token_hash, a.username, a.role, a.agency, coalesce(array_agg(aa.affiliation_number) "
        "FILTER (WHERE aa.affiliation_number IS NOT NULL), '{}') FROM accounts a "
        "LEFT JOIN account_affiliations aa USING (username) JOIN api_tokens t ON t.username = a.username "
        "WHERE t.token_hash = ANY(%s) AND t.expires_at > now() AND NOT a.disabled "
        "GROUP BY t.token_hash, a.username",
        (list(hashes),),
    )
    return {
        hashes[found]: Principal(username, role, frozenset(held), agency)
        for found, username, role, agency, held in rows
    }


def enabled_account(conn: psycopg.Connection[Any], username: str) -> Principal | None:
    """An enabled account by name (the Kafka ingress's sender, named by its topic), else None."""
    row = _one(conn, _PRINCIPAL + "WHERE a.username = %s AND NOT a.disabled GROUP BY a.username",
               (username,))  # fmt: skip
    return Principal(row[0], row[1], frozenset(row[3]), row[2]) if row else None


def portal_names(conn: psycopg.Connection[Any]) -> list[str]:
    """The portal accounts whose names can name a Kafka topic (``ipe portals create`` makes only those)."""
    rows = conn.cursor(row_factory=tuple_row).execute(
        "SELECT username FROM accounts WHERE role = 'portal' AND username ~ '^[a-z0-9][a-z0-9_-]{0,62}$'"
    )
    return [row[0] for row in rows.fetchall()]
