"""Tamper evidence for the event store: per-stream hash chains and a digest over the global order.

Sealing reads the events appended since the last seal, in notification order, and records for each a
content hash (its stream, version, notification id, topic and stored bytes) and a chain hash linking
it to the previous event of its stream; each sealing run adds one digest chaining every content hash
it sealed onto the previous digest. The store appends under a table lock, so notification ids become
visible in order and "after the last sealed id" misses nothing.

What it detects, and what it cannot, is in docs/audit.md: in short, any change to a sealed event is
found and named; an event forged before it was sealed is indistinguishable from a real one; someone
who can rewrite both the events and the seal tables is caught only by a digest kept outside the
database (``ipe audit verify --expect``).
"""

from __future__ import annotations

import hashlib
import threading
import uuid
from dataclasses import dataclass, field
from typing import Any

import psycopg
from psycopg.rows import tuple_row

SEAL_LOCK = 0x5EA1ED
BATCH = 5000
GENESIS = bytes(32)


def content_hash(
    originator_id: uuid.UUID, version: int, notification_id: int, topic: str, state: bytes
) -> bytes:
    digest = hashlib.sha256(b"ipe-event-seal-v1")
    digest.update(originator_id.bytes)
    digest.update(version.to_bytes(8, "big", signed=True))
    digest.update(notification_id.to_bytes(8, "big", signed=True))
    encoded = topic.encode()
    digest.update(len(encoded).to_bytes(4, "big") + encoded)
    digest.update(bytes(state))
    return digest.digest()


def chain(previous: bytes, content: bytes) -> bytes:
    return hashlib.sha256(previous + content).digest()


def next_digest(previous: bytes, position: int, contents: list[bytes]) -> bytes:
    digest = hashlib.sha256(previous + position.to_bytes(8, "big", signed=True))
    for content in contents:
        digest.update(content)
    return digest.digest()


def _q(conn: psycopg.Connection[Any]) -> psycopg.Cursor[Any]:
    """A tuple cursor whatever the connection's row factory (the API's pool hands out dict rows)."""
    return conn.cursor(row_factory=tuple_row)


@dataclass(frozen=True)
class Sealed:
    events: int
    position: int
    digest: str


def sealed_head(conn: psycopg.Connection[Any]) -> tuple[int, bytes]:
    row = (
        _q(conn)
        .execute("SELECT position, digest FROM audit_digests ORDER BY position DESC LIMIT 1")
        .fetchone()
    )
    return (int(row[0]), bytes(row[1])) if row else (0, GENESIS)


def seal(conn: psycopg.Connection[Any]) -> Sealed:
    """Seal everything appended since the last seal, in batches; one sealer at a time."""
    total = 0
    with conn.transaction():
        _q(conn).execute("SELECT pg_advisory_xact_lock(%s)", (SEAL_LOCK,))
        position, digest = sealed_head(conn)
        while True:
            rows = (
                _q(conn)
                .execute(
                    "SELECT originator_id, originator_version, notification_id, topic, state FROM ipe_events "
                    "WHERE notification_id > %s ORDER BY notification_id LIMIT %s",
                    (position, BATCH),
                )
                .fetchall()
            )
            if not rows:
                break
            last_chain = _last_chains(conn, {row[0] for row in rows})
            contents: list[bytes] = []
            seals = []
            for originator_id, version, notification_id, topic, state in rows:
                content = content_hash(originator_id, version, notification_id, topic, state)
                linked = chain(last_chain.get(originator_id, GENESIS), content)
                last_chain[originator_id] = linked
                contents.append(content)
                seals.append((originator_id, version, notification_id, content, linked))
            with _q(conn) as cursor:
                cursor.executemany(
                    "INSERT INTO audit_event_seals (originator_id, originator_version, notification_id, "
                    "content_hash, chain_hash) VALUES (%s, %s, %s, %s, %s)",
                    seals,
                )
            position = rows[-1][2]
            digest = next_digest(digest, position, contents)
            _q(conn).execute(
                "INSERT INTO audit_digests (position, digest, events) VALUES (%s, %s, %s)",
                (position, digest, len(rows)),
            )
            total += len(rows)
    return Sealed(total, position, digest.hex())


def _last_chains(conn: psycopg.Connection[Any], streams: set[uuid.UUID]) -> dict[uuid.UUID, bytes]:
    rows = (
        _q(conn)
        .execute(
            "SELECT DISTINCT ON (originator_id) originator_id, chain_hash FROM audit_event_seals "
            "WHERE originator_id = ANY(%s) ORDER BY originator_id, originator_version DESC",
            (list(streams),),
        )
        .fetchall()
    )
    return {row[0]: bytes(row[1]) for row in rows}


@dataclass(frozen=True)
class Finding:
    kind: str  # altered | removed | inserted | seal-chain-broken | digest-mismatch | digest-unknown
    stream: uuid.UUID | None
    version: int | None
    notification_id: int | None
    detail: str = ""

    def describe(self) -> str:
        where = f"stream {self.stream} event #{self.version}" if self.stream else "global digest"
        position = f" (notification {self.notification_id})" if self.notification_id is not None else ""
        return f"{self.kind.upper()}: {where}{position}. {self.detail}".strip()


@dataclass
class Report:
    checked: int = 0
    unsealed: int = 0
    digest: str = GENESIS.hex()
    findings: list[Finding] = field(default_factory=list)


_JOINED = (
    "SELECT coalesce(e.originator_id, s.originator_id), coalesce(e.originator_version, s.originator_version), "
    "e.notification_id, e.topic, e.state, s.notification_id, s.content_hash, s.chain_hash "
    "FROM ipe_events e FULL JOIN audit_event_seals s "
    "ON s.originator_id = e.originator_id AND s.originator_version = e.originator_version "
)


def verify(
    conn: psycopg.Connection[Any], expect: str | None = None, stream: uuid.UUID | None = None
) -> Report:
    """Compare every event with its seal, every seal with its chain, and the digests with the seals."""
    report = Report()
    head, _ = sealed_head(conn)
    where = "WHERE coalesce(e.originator_id, s.originator_id) = %s " if stream else ""
    named = f"verify_{uuid.uuid4().hex[:8]}"
    with conn.transaction(), conn.cursor(name=named, row_factory=tuple_row) as cursor:
        cursor.itersize = BATCH
        cursor.execute(_JOINED + where + "ORDER BY 1, 2", (stream,) if stream else None)
        current, previous = None, GENESIS
        for originator_id, version, nid, topic, state, sealed_nid, sealed_content, sealed_chain in cursor:
            if originator_id != current:
                current, previous = originator_id, GENESIS
            report.findings += _check_event(
                report, head, originator_id, version, nid, topic, state, sealed_nid, sealed_content
            )
            if sealed_chain is not None:
                if chain(previous, bytes(sealed_content)) != bytes(sealed_chain):
                    report.findings.append(Finding("seal-chain-broken", originator_id, version, sealed_nid,
                                                   "the seal does not follow from the stream's previous seal"))  # fmt: skip
                previous = bytes(sealed_chain)
    if stream is None:
        report.findings += _check_digests(conn, report, expect)
    return report


def _check_event(
    report: Report, head: int, originator_id: uuid.UUID, version: int, nid: int | None, topic: str | None,
    state: bytes | None, sealed_nid: int | None, sealed_content: bytes | None,
) -> list[Finding]:  # fmt: skip
    if nid is None:
        report.checked += 1
        return [Finding("removed", originator_id, version, sealed_nid, "sealed, no longer in ipe_events")]
    if sealed_content is None:
        if nid <= head:
            return [
                Finding(
                    "inserted", originator_id, version, nid, "in ipe_events among sealed events, never sealed"
                )
            ]
        report.unsealed += 1
        return []
    report.checked += 1
    if content_hash(originator_id, version, nid, topic or "", state or b"") != bytes(sealed_content):
        return [Finding("altered", originator_id, version, nid, "its stored content differs from its seal")]
    return []


def _check_digests(conn: psycopg.Connection[Any], report: Report, expect: str | None) -> list[Finding]:
    findings: list[Finding] = []
    digests = _q(conn).execute("SELECT position, digest FROM audit_digests ORDER BY position").fetchall()
    recomputed, previous_position, seen = GENESIS, 0, set()
    for position, stored in digests:
        contents = [
            bytes(row[0])
            for row in _q(conn).execute(
                "SELECT content_hash FROM audit_event_seals WHERE notification_id > %s AND notification_id <= %s "
                "ORDER BY notification_id",
                (previous_position, position),
            )
        ]
        recomputed = next_digest(recomputed, position, contents)
        seen.add(recomputed.hex())
        if recomputed != bytes(stored):
            findings.append(Finding("digest-mismatch", None, None, position,
                                    "the seals up to here are not those the digest was made of"))  # fmt: skip
            recomputed = bytes(stored)
        previous_position = position
    report.digest = recomputed.hex()
    if expect and expect.lower() not in seen:
        findings.append(Finding("digest-unknown", None, None, None,
                                f"the digest {expect} kept outside is not in the recomputed history"))  # fmt: skip
    return findings


def stream_status(conn: psycopg.Connection[Any], stream: uuid.UUID) -> dict[int, str]:
    """Per version of one stream: 'sealed', 'not sealed yet', or the finding's kind."""
    report = verify(conn, stream=stream)
    status = {
        int(row[0]): "sealed"
        for row in _q(conn).execute(
            "SELECT originator_version FROM audit_event_seals WHERE originator_id = %s", (stream,)
        )
    }
    for row in _q(conn).execute(
        "SELECT originator_version FROM ipe_events WHERE originator_id = %s", (stream,)
    ):
        status.setdefault(int(row[0]), "not sealed yet")
    for finding in report.findings:
        if finding.version is not None:
            status[finding.version] = finding.kind
    return status


def run(database_url: str, stop: threading.Event, every: float = 5.0) -> None:
    """The sealing loop of the ``sealer`` process: a seal every ``every`` seconds."""
    import structlog

    from ipe_claims.adapters.loops import supervised

    log = structlog.get_logger()

    def seal_new(conn: psycopg.Connection[Any]) -> float:
        sealed = seal(conn)
        if sealed.events:
            log.info("audit.sealed", events=sealed.events, position=sealed.position, digest=sealed.digest)
        return every

    supervised(seal_new, stop, "audit.seal", database_url=database_url)
