"""The parked store: records a consumer can never handle, kept (in ``dead_letters``) until an auditor
replays them once the cause is fixed.

A record is parked in the transaction that moves its consumer's position past it, so a crash either
does both or neither: nothing is lost and nothing is parked twice (one row per consumer and coordinates).
A replay runs the consumer's own handler on the stored bytes; the effects are keyed by event id, so a
replay of something already done is a no-op. The position is never moved back: the partition went on.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import psycopg
from kafka.consumer.fetcher import ConsumerRecord
from psycopg.rows import tuple_row

PARKED, REFUSED, REPLAYED = "parked", "refused", "replayed"
# A consumer's own handler, given the parked record as a batch of one.
Handler = Callable[[psycopg.Connection[Any], list[ConsumerRecord]], None]

_INSERT = (
    "INSERT INTO dead_letters (consumer, topic, partition, message_offset, reason, message_key, message_value, "
    "disposition) VALUES (%s, %s, %s, %s, %s, %s, %s, %s) ON CONFLICT (consumer, topic, partition, message_offset) "
    # A record replayed once and delivered again (a broker that lost its log) that fails again is parked again.
    "DO UPDATE SET disposition = EXCLUDED.disposition, reason = EXCLUDED.reason, recorded_at = now() "
    "WHERE dead_letters.disposition = 'replayed' OR EXCLUDED.disposition = 'refused'"
)
_COLUMNS = (
    "id, consumer, topic, partition, message_offset, message_key, message_value, reason, disposition, "
    "recorded_at, replay_attempts, last_error"
)


@dataclass(frozen=True)
class Parked:
    id: int
    consumer: str
    topic: str
    partition: int
    offset: int
    key: bytes | None
    value: bytes | None
    reason: str
    disposition: str
    recorded_at: datetime
    replay_attempts: int
    last_error: str | None

    def record(self) -> ConsumerRecord:
        """The record as the consumer received it (what its handler reads: coordinates, key, value)."""
        fields: dict[str, Any] = dict.fromkeys(ConsumerRecord._fields)
        fields |= {"topic": self.topic, "partition": self.partition, "offset": self.offset, "key": self.key,
                   "value": self.value, "headers": [], "timestamp": -1, "timestamp_type": 0}  # fmt: skip
        return ConsumerRecord(**fields)

    def summary(self) -> dict[str, Any]:
        """What an auditor's listing shows (no raw bytes: they may hold personal data)."""
        return {"id": self.id, "consumer": self.consumer, "topic": self.topic, "partition": self.partition,
                "offset": self.offset, "key": self.key.decode(errors="replace") if self.key else None,
                "reason": self.reason, "disposition": self.disposition,
                "recorded_at": self.recorded_at.isoformat(), "replay_attempts": self.replay_attempts,
                "last_error": self.last_error, "size": len(self.value or b"")}  # fmt: skip


def put(conn: psycopg.Connection[Any], consumer: str, records: list[tuple[ConsumerRecord, str]],
        disposition: str = PARKED) -> None:  # fmt: skip
    """Keep ``records`` (each with its reason) as ``disposition``, in the caller's transaction."""
    if not records:
        return
    with conn.cursor() as cursor:
        cursor.executemany(
            _INSERT,
            [(consumer, r.topic, r.partition, r.offset, reason, r.key, r.value, disposition)
             for r, reason in records],
        )  # fmt: skip


def listed(conn: psycopg.Connection[Any], everything: bool = False) -> list[Parked]:
    """The parked records, oldest first; with ``everything``, the refused and replayed ones too."""
    where = "" if everything else "WHERE disposition = 'parked' "
    rows = conn.cursor(row_factory=tuple_row).execute(
        f"SELECT {_COLUMNS} FROM dead_letters {where}ORDER BY id"
    )
    return [Parked(*row) for row in rows.fetchall()]


def parked_by_partition(conn: psycopg.Connection[Any]) -> list[tuple[str, str, int, int]]:
    """(consumer, topic, partition, how many) of every partition that has parked records."""
    rows = conn.cursor(row_factory=tuple_row).execute(
        "SELECT consumer, topic, partition, count(*) FROM dead_letters WHERE disposition = 'parked' "
        "GROUP BY consumer, topic, partition ORDER BY consumer, topic, partition"
    )
    return [(c, t, int(p), int(n)) for c, t, p, n in rows.fetchall()]


def replay(conn: psycopg.Connection[Any], parked_id: int, handlers: dict[str, Handler]) -> str | None:
    """Run the parked record's consumer handler on it; on success it is ``replayed`` (in the handler's
    transaction), else it stays parked with the error noted. None on success, else why not."""
    try:
        with conn.transaction():
            row = (
                conn.cursor(row_factory=tuple_row)
                .execute(
                    f"SELECT {_COLUMNS} FROM dead_letters WHERE id = %s AND disposition = 'parked' FOR UPDATE",
                    (parked_id,),
                )
                .fetchone()
            )
            if row is None:
                return "not parked (unknown id, refused or already replayed)"
            parked = Parked(*row)
            handler = handlers.get(parked.consumer)
            if handler is None:
                return f"no handler for consumer {parked.consumer}"
            handler(conn, [parked.record()])
            conn.execute(
                "UPDATE dead_letters SET disposition = 'replayed', replayed_at = now(), "
                "replay_attempts = replay_attempts + 1 WHERE id = %s AND disposition = 'parked'",
                (parked_id,),
            )
    except (psycopg.OperationalError, psycopg.InterfaceError):
        raise  # the database, not the record: nothing to note
    except Exception as exc:  # the handler's failure, whatever it is, is what the auditor needs to read
        error = f"{type(exc).__name__}: {exc}"
        conn.execute(
            "UPDATE dead_letters SET replay_attempts = replay_attempts + 1, last_error = %s WHERE id = %s",
            (error[:2000], parked_id),
        )
        return error
    return None
