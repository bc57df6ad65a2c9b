"""The access log: who read which personal data, when (Moroccan law 09-08).

One row per claim (or insured) shown, written before the data is: if the row cannot be written, the
data is not shown. The reader is an API account (its name and role; an agent's agency too) or, for the ``ipe`` commands run on
a server, the operating-system user and the host (role ``operator``): the log names a person either way.
"""

from __future__ import annotations

import getpass
import socket
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

import psycopg

_INSERT = (
    "INSERT INTO access_log (username, role, action, claim_id, affiliation_number, immatriculation, request_id, host, "
    "agency) SELECT * FROM unnest(%s::text[], %s::text[], %s::text[], %s::uuid[], %s::text[], %s::text[], "
    "%s::text[], %s::text[], %s::text[])"
)


class Reader(Protocol):
    @property
    def username(self) -> str: ...

    @property
    def role(self) -> str: ...


@dataclass(frozen=True)
class Operator:
    """Whoever runs an ``ipe`` command: the operating-system account and the machine it runs on."""

    username: str
    host: str
    role: str = "operator"


def operator() -> Operator:
    try:
        user = getpass.getuser()
    except (KeyError, OSError):  # no passwd entry and no LOGNAME/USER: still say which uid it was
        import os

        user = f"uid:{os.getuid()}"
    return Operator(user, socket.gethostname())


def rows(reader: Reader, action: str, shown: Iterable[dict[str, Any]],
         request_id: str | None = None) -> list[tuple[Any, ...]]:  # fmt: skip
    """``shown``: dicts with any of claim_id, affiliation_number, immatriculation (what was read)."""
    host = getattr(reader, "host", None)
    agency = getattr(reader, "agency", None)  # an agent's (Principal.agency): they act for it
    return [
        (reader.username, reader.role, action, str(item["claim_id"]) if item.get("claim_id") else None,
         item.get("affiliation_number"), item.get("immatriculation"), request_id, host, agency)
        for item in shown
    ]  # fmt: skip


def insert(conn: psycopg.Connection[Any], logged: Sequence[tuple[Any, ...]]) -> None:
    """Every row in one statement (atomic on its own, one round trip whatever the count)."""
    if logged:
        conn.execute(_INSERT, [list(column) for column in zip(*logged, strict=True)])


def record(conn: psycopg.Connection[Any], reader: Reader, action: str, shown: Iterable[dict[str, Any]],
           request_id: str | None = None) -> None:  # fmt: skip
    insert(conn, rows(reader, action, shown, request_id))
