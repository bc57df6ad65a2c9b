"""A claim's whole history, from the event store itself (not a read model), for auditors.

Each event with its time, type, who caused it, what happened in words (``words.in_words``), payload (never
a RIB's digits) and, for decisions, the rule-set version; each event's seal status
(ipe_claims/audit/seal.py); and the notification deliveries recorded for the claim.
"""

from __future__ import annotations

import uuid
from dataclasses import asdict, is_dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Any

import psycopg
from psycopg import errors as pg_errors
from psycopg.rows import dict_row

from ipe_claims.adapters.claim_messages import to_record
from ipe_claims.application.claims import ClaimsApplication
from ipe_claims.audit.seal import stream_status
from ipe_claims.audit.words import in_words, shown_payload
from ipe_claims.domain.claim import Claim

_ENVELOPE = ("originator_id", "originator_version", "timestamp")
# The attribute that names who caused an event, by order of preference (the new events follow suit).
_CAUSE_FIELDS = ("submitted_by", "decided_by", "declared_by", "observed_by", "recorded_by", "agent")


def _plain(value: Any) -> Any:
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, uuid.UUID | Decimal):
        return str(value)
    if is_dataclass(value) and not isinstance(value, type):
        return _plain(asdict(value))
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    return value


def _type_name(event: Any) -> str:
    try:
        return to_record(event)[0]
    except TypeError:
        return type(event).__qualname__.replace(".", "")


def caused_by(event: Any) -> str:
    for name in _CAUSE_FIELDS:
        who = getattr(event, name, None)
        if who:
            channel = getattr(event, {"submitted_by": "channel", "agent": "agency"}.get(name, ""), None)
            return f"{who} ({channel})" if channel else str(who)
    if isinstance(event, Claim.DeclarationWaitExpired):
        return "projector (wait expiry)"
    return "unknown"


def _ruleset(event: Any) -> str | None:
    decision = getattr(event, "decision", None)
    if isinstance(decision, dict):
        return decision.get("ruleset_version")
    return getattr(event, "ruleset_version", None)


def claim_history(
    app: ClaimsApplication, conn: psycopg.Connection[Any], claim_id: uuid.UUID
) -> dict[str, Any] | None:
    """None when the store holds no claim with this id."""
    events: list[Any] = app.claim_events(claim_id)
    if not events or not isinstance(events[0], Claim.Submitted):
        return None
    seals = stream_status(conn, claim_id)
    entries = [
        {
            "version": event.originator_version,
            "occurred_at": event.timestamp.isoformat(),
            "type": _type_name(event),
            "caused_by": caused_by(event),
            "summary": in_words(event),
            "ruleset_version": _ruleset(event),
            "sealed": seals.get(event.originator_version, "not sealed yet"),
            "payload": _plain(
                shown_payload(event, {k: v for k, v in vars(event).items() if k not in _ENVELOPE})
            ),
        }
        for event in events
    ]
    first = events[0]
    return {
        "claim_id": str(claim_id),
        "affiliation_number": first.affiliation_number,
        "events": entries,
        "notifications": notifications(conn, claim_id),
    }


def notifications(conn: psycopg.Connection[Any], claim_id: uuid.UUID) -> list[dict[str, Any]]:
    """The delivery attempts the notifier recorded (its tables change; read what exists)."""
    queries = (
        "SELECT event_id::text, kind, channel, status, attempts, requested_at AS created_at, sent_at, reason "
        "FROM deliveries WHERE claim_id = %s ORDER BY requested_at, delivery_id",
        "SELECT event_id::text, kind, channel, status, created_at FROM notifications WHERE claim_id = %s "
        "ORDER BY created_at, event_id",
    )
    for query in queries:
        try:
            with conn.transaction(), conn.cursor(row_factory=dict_row) as cursor:
                rows = cursor.execute(query, (claim_id,)).fetchall()
        except pg_errors.UndefinedTable:
            continue
        return [_plain(row) for row in rows]
    return []
