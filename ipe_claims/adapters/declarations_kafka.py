"""Monthly declarations arriving on ``cnss.declarations``: publish them, and consume them in batches.

A declaration line is tiny and arrives by the million each month. This consumer takes what one poll
returns (6 000 lines), across partitions, and in ONE transaction: skips records below each partition's stored
position (a redelivery), dead-letters the lines it cannot read or that break a rule (with the reason),
COPYs the others into a temporary table, merges them the way a CSV load does, and stores the new
positions. A crash anywhere rolls the whole batch back; the merge is keyed by (insured, month,
affiliation), so a replay of the log rewrites nothing. Decoding (Python) and merging (Postgres) overlap:
a writer thread applies poll n while the consumer decodes poll n + 1 (docs/scaling.md). That overlap is
why it keeps a loop of its own rather than ``TrackedConsumer``'s; its fallback is still its one batch
path (``apply``) on batches of one, and its handler (``merge``) is what ``ipe parked replay`` runs.
"""

from __future__ import annotations

import contextlib
import io
import queue
import threading
import time
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date
from typing import Any

import psycopg
import structlog
from fastavro import parse_schema, schemaless_reader
from kafka import ConsumerRebalanceListener, KafkaConsumer, KafkaProducer, TopicPartition
from kafka.consumer.fetcher import ConsumerRecord

from ipe_claims.adapters import parked
from ipe_claims.adapters.avro import MARKER, AvroCodec, AvroDecodeError
from ipe_claims.adapters.declarations import HEADER, LoadReport, merge_staged
from ipe_claims.adapters.kafka import TRANSIENT, PoisonMessage, TrackedConsumer
from ipe_claims.settings import DECLARATIONS_TOPIC, Settings

log = structlog.get_logger()
CONSUMER_NAME = "ipe-declarations"
SCHEMA = "MonthlyDeclaration"
# One poll, one transaction: 2 000 -> 6 000 lines cut the merge from 7.7 to 6.2 µs a line.
BATCH_RECORDS = 6000
_EPOCH = date(1970, 1, 1).toordinal()
# First days of the months of 1900-2199 in days since 1970-01-01: a set lookup instead of a date per line.
_FIRST_DAYS = frozenset(date(y, m, 1).toordinal() - _EPOCH for y in range(1900, 2200) for m in range(1, 13))
# A poll's lines are decoded by ONE fastavro call, as an Avro array whose items are the line's body followed
# by this 8-byte mark: a body longer or shorter than its schema shifts the next mark, so the whole poll
# falls back to line-by-line decoding (which names the bad line). 5 -> 2.9 µs a line (docs/scaling.md).
_MARK = bytes.fromhex("8f13a702d5610ebb")
# Lines are staged as Avro carries them (period: days since 1970-01-01, salary: centimes) and converted
# by Postgres during the merge: decoding without fastavro's logical types halves the per-line cost.
_STAGED = "incoming_declarations"
_STAGE = (
    f"CREATE TEMP TABLE IF NOT EXISTS {_STAGED} (seq bigint GENERATED ALWAYS AS IDENTITY, affiliation_number text, "
    "immatriculation text, cin text, nom text, prenoms text, period int, days int, salary bigint) "
    "ON COMMIT DELETE ROWS"
)
_SOURCE = (
    f"(SELECT seq, affiliation_number, immatriculation, cin, nom, prenoms, date '1970-01-01' + period AS period, "
    f"days, salary * 0.01 AS salary FROM {_STAGED}) AS {_STAGED}"
)


@dataclass
class Lines:
    """One partition's records of a poll, decoded: ``rows[i]`` is the row to stage for ``records[i]``,
    None when it is dead-lettered for ``reasons[i]``."""

    records: list[ConsumerRecord]
    rows: list[tuple[Any, ...] | None]
    reasons: dict[int, str]


Prepared = dict[TopicPartition, Lines]


class InvalidLine(ValueError):
    """A declaration line that breaks a rule of the contribution history; it is dead-lettered."""


def to_record(row: tuple[Any, ...]) -> dict[str, Any]:
    """A row in ``HEADER`` order (as ``load_rows`` takes it) as a MonthlyDeclaration record."""
    return dict(zip(HEADER, row, strict=True))


def publish(producer: KafkaProducer, codec: AvroCodec, rows: Iterable[tuple[Any, ...]]) -> int:
    """Send declaration rows (``HEADER`` order) keyed by immatriculation; return how many were sent."""
    sent = 0
    for row in rows:
        record = to_record(row)
        producer.send(DECLARATIONS_TOPIC, key=record["immatriculation"].encode(),
                      value=codec.encode(SCHEMA, record))  # fmt: skip
        sent += 1
    producer.flush()
    return sent


def checked(record: dict[str, Any]) -> tuple[Any, ...]:
    """The row to stage from a record as Avro carries it (period in days since 1970-01-01, salary as the
    decimal's unscaled bytes), or InvalidLine with the field and reason (the CSV loader's rules)."""
    aff, imm, cin, nom, prenoms = (record["affiliation_number"], record["immatriculation"], record["cin"],
                                   record["nom"], record["prenoms"])  # fmt: skip
    if not (aff.isascii() and aff.isdigit() and len(aff) <= 20):  # isdigit alone takes "²" or "٣"
        raise InvalidLine("affiliation_number: must be digits")
    if not (imm.isascii() and imm.isdigit() and len(imm) <= 20):
        raise InvalidLine("immatriculation: must be digits")
    for key, value in (("cin", cin), ("nom", nom), ("prenoms", prenoms)):
        if not value.strip() or "\x00" in value:
            raise InvalidLine(f"{key}: is empty or not text")
    period, days = record["period"], record["days"]
    if period not in _FIRST_DAYS and not _first_day(period):
        raise InvalidLine("period: must be the first day of a month")
    if not 0 <= days <= 31:
        raise InvalidLine("days: must be between 0 and 31")
    centimes = int.from_bytes(record["salary"], "big", signed=True)
    if not 0 <= centimes < 10**12:
        raise InvalidLine("salary: must be a non-negative amount")
    return (aff, imm, cin, nom, prenoms, period, days, centimes)


def _first_day(period: int) -> bool:
    try:
        return date.fromordinal(_EPOCH + period).day == 1
    except (ValueError, OverflowError):
        return False


class DeclarationsConsumer(TrackedConsumer):
    """A consumer-group member over ``cnss.declarations``, one transaction per poll."""

    def __init__(self, settings: Settings, codec: AvroCodec, name: str = CONSUMER_NAME) -> None:
        super().__init__(settings, name, [DECLARATIONS_TOPIC], handler=self.merge)
        self.codec = codec
        latest = codec.latest[SCHEMA]
        self._fingerprint = latest.fingerprint
        plain = _without_logical_types(latest.schema)
        self._header = MARKER + latest.fingerprint
        self._plain = parse_schema(plain)
        marked = dict(plain, name=f"{plain['name']}Marked", fields=[
            *plain["fields"], {"name": "_mark", "type": {"type": "fixed", "name": "LineMark", "size": len(_MARK)}}])  # fmt: skip
        self._poll_schema = parse_schema({"type": "array", "items": marked})
        self.rows = 0  # declaration lines merged by this process (not counting redeliveries)

    def _run(self, stop: threading.Event) -> None:
        with psycopg.connect(self.settings.database.url, autocommit=True) as conn:
            consumer = self._consumer(max_partition_fetch_bytes=4 << 20, max_poll_records=BATCH_RECORDS)
            writer = _Writer(self)
            try:
                self._pipeline(conn, consumer, writer, stop)
            finally:
                writer.close()
                consumer.close(autocommit=False)

    def _pipeline(self, conn: psycopg.Connection[Any], consumer: KafkaConsumer, writer: _Writer,
              stop: threading.Event) -> None:  # fmt: skip
        """Poll and decode here while the writer thread merges the previous batch (the database works
        on the other core meanwhile). A rebalance first lets the writer finish, then seeks to the
        positions it stored."""
        member = self

        class SeekToStored(ConsumerRebalanceListener):  # type: ignore[misc]  # kafka-python is untyped
            def on_partitions_revoked(self, revoked: Any) -> None:
                writer.drain()

            def on_partitions_assigned(self, assigned: Any) -> None:
                writer.drain()
                member._seek_to_stored(conn, consumer, assigned)

        consumer.subscribe(self.topics, listener=SeekToStored())
        while not stop.is_set():
            batch = self.poll(consumer)
            if batch:
                writer.submit(self.prepare(batch))
            if replaced := writer.replaced():
                writer.drain()
                self._seek_to_stored(conn, consumer, replaced)

    def _seek_to_stored(
        self, conn: psycopg.Connection[Any], consumer: KafkaConsumer, partitions: Any
    ) -> None:
        stored = self._positions(conn)
        for tp in partitions:
            offset = stored.get(tp)
            if offset is None:  # never consumed, or a position in a log the broker lost
                consumer.seek_to_beginning(tp)
            else:
                consumer.seek(tp, offset)

    def prepare(self, batch: dict[TopicPartition, list[ConsumerRecord]]) -> Prepared:
        """Decode and check every line of a poll (no database): per partition, each row or its reason."""
        prepared: Prepared = {}
        for tp, records in batch.items():
            rows: list[tuple[Any, ...] | None] = []
            reasons: dict[int, str] = {}
            decoded = self._decode_all([record.value for record in records])
            if decoded is not None:
                with contextlib.suppress(InvalidLine):  # the usual poll: every line good
                    prepared[tp] = Lines(records, [checked(fields) for fields in decoded], reasons)
                    continue
            for i, record in enumerate(records):
                try:
                    fields = decoded[i] if decoded is not None else self._plain_record(record.value)
                    rows.append(checked(fields))
                except (AvroDecodeError, InvalidLine) as exc:
                    rows.append(None)
                    reasons[i] = f"{type(exc).__name__}: {exc}"
            prepared[tp] = Lines(records, rows, reasons)
        return prepared

    def _decode_all(self, values: list[bytes | None]) -> list[dict[str, Any]] | None:
        """Every line in one fastavro call when all are the latest version and their bodies are well
        framed (each followed by its mark, the whole buffer read); None to decode them one by one."""
        header = self._header
        parts: list[Any] = [_long(len(values))]
        for value in values:
            if value is None or value[:10] != header:
                return None
            parts += (memoryview(value)[10:], _MARK)
        parts.append(b"\x00")
        buf = io.BytesIO(b"".join(parts))
        try:
            decoded: Any = schemaless_reader(buf, self._poll_schema, None)
        except Exception:  # a corrupt line: the line-by-line decoding names it
            return None
        if buf.read(1) or len(decoded) != len(values) or any(line["_mark"] != _MARK for line in decoded):
            return None
        lines: list[dict[str, Any]] = decoded
        return lines

    def handle_batch(
        self, conn: psycopg.Connection[Any], batch: dict[TopicPartition, list[ConsumerRecord]]
    ) -> list[TopicPartition]:
        """Apply one poll in one transaction (see ``apply``)."""
        return self.apply(conn, self.prepare(batch))

    def apply(self, conn: psycopg.Connection[Any], prepared: Prepared) -> list[TopicPartition]:
        """Merge a prepared poll and store the positions in one transaction; return the partitions whose
        broker log was replaced (their stored positions are forgotten: the caller starts them over)."""
        replaced: list[TopicPartition] = []
        with conn.transaction():
            # No wait for the WAL flush at commit: a crash can only lose a batch together with its positions
            # (same transaction), which the consumer then reads again: exactly-once holds, the fsync is saved.
            # Few round trips: in this thread each one may wait for the GIL the decoding thread holds.
            conn.execute(f"SET LOCAL synchronous_commit = off; {_STAGE}")
            fresh: list[tuple[Any, ...]] = []
            dead: list[tuple[ConsumerRecord, str]] = []
            stored = self._lock_positions(conn, list(prepared))
            for tp, lines in prepared.items():
                start = self._start(conn, tp, stored.get((tp.topic, tp.partition)))
                if start is None:
                    replaced.append(tp)
                    continue
                skip = 0  # records below the stored position were applied already: a redelivery
                while skip < len(lines.records) and lines.records[skip].offset < start:
                    skip += 1
                rows = lines.rows[skip:] if skip else lines.rows
                fresh += [row for row in rows if row is not None]
                dead += [
                    (lines.records[i], reason) for i, reason in sorted(lines.reasons.items()) if i >= skip
                ]
            if fresh:
                with conn.cursor().copy(f"COPY {_STAGED} ({','.join(HEADER)}) FROM STDIN") as copy:
                    for row in fresh:
                        copy.write_row(row)
            for record, reason in dead:
                self._dead_letter_in_batch(conn, record, reason)
            report = merge_staged(conn, _SOURCE, len(fresh)) if fresh else LoadReport(0, 0, 0)
            self._advance_past(conn, [lines.records[-1] for tp, lines in prepared.items()
                                      if tp not in replaced and lines.records])  # fmt: skip
        self.rows += report.rows
        self.handled += len(fresh) + len(dead)
        if dead:
            log.warning("declarations.dead_letters", consumer=self.name, count=len(dead))
        return replaced

    def apply_each(self, conn: psycopg.Connection[Any], prepared: Prepared) -> list[TopicPartition]:
        """``apply`` line by line, after a poll failed for a reason of its own (not a transient fault): a
        line that fails ``poison_attempts`` times alone is parked, and its partition goes on."""
        replaced: list[TopicPartition] = []
        for tp, lines in prepared.items():
            for i, record in enumerate(lines.records):
                if tp in replaced:
                    break
                one = {
                    tp: Lines([record], [lines.rows[i]], {0: lines.reasons[i]} if i in lines.reasons else {})
                }
                for attempt in range(1, self.settings.kafka.poison_attempts + 1):
                    try:
                        replaced += self.apply(conn, one)
                        break
                    except TRANSIENT:
                        raise
                    except Exception as exc:
                        if conn.broken:
                            raise
                        if attempt == self.settings.kafka.poison_attempts:
                            reason = f"{type(exc).__name__}: {exc} (failed {attempt} times)"
                            self._park_line(conn, tp, record, reason)
        return replaced

    def _park_line(self, conn: psycopg.Connection[Any], tp: TopicPartition, record: ConsumerRecord,
                   reason: str) -> None:  # fmt: skip
        """Park the line and move the position past it in one transaction (unless it was passed already)."""
        with conn.transaction():
            start = self._start(conn, tp, self._lock_positions(conn, [tp]).get((tp.topic, tp.partition)))
            if start is None or record.offset < start:
                return
            parked.put(conn, self.name, [(record, reason)])
            self._advance_past(conn, [record])
        self.handled += 1
        log.warning("consumer.parked", consumer=self.name, topic=record.topic, partition=record.partition,
                    offset=record.offset, reason=reason[:200])  # fmt: skip

    def merge(self, conn: psycopg.Connection[Any], records: list[ConsumerRecord]) -> None:
        """Merge these lines as a poll would, leaving the positions where they are (``ipe parked replay``
        on a batch of one); PoisonMessage when one still cannot be read or breaks a rule."""
        rows: list[tuple[Any, ...]] = []
        for lines in self.prepare(_by_partition(records)).values():
            if lines.reasons:
                raise PoisonMessage(next(iter(lines.reasons.values())))
            rows += [row for row in lines.rows if row is not None]
        if not rows:
            return
        with conn.transaction():
            conn.execute(_STAGE)
            with conn.cursor().copy(f"COPY {_STAGED} ({','.join(HEADER)}) FROM STDIN") as copy:
                for row in rows:
                    copy.write_row(row)
            merge_staged(conn, _SOURCE, len(rows))

    def _start(
        self, conn: psycopg.Connection[Any], tp: TopicPartition, row: tuple[int, str | None] | None
    ) -> int | None:
        """Where the partition starts: its stored (locked) position, 0 when none; None when that position
        refers to a log the broker lost (it is then forgotten)."""
        if row is None:
            return 0
        if not self._same_log(tp.topic, row[1]):
            conn.execute(
                "DELETE FROM consumer_positions WHERE consumer = %s AND topic = %s AND partition = %s",
                (self.name, tp.topic, tp.partition),
            )
            return None
        return int(row[0])

    def _plain_record(self, value: bytes | None) -> dict[str, Any]:
        """The record without logical-type conversions; any other writer version goes through the codec
        (schema resolution) and is brought to the same form."""
        if value and value[:2] == MARKER and value[2:10] == self._fingerprint:
            buf = io.BytesIO(value[10:])
            try:
                record: Any = schemaless_reader(buf, self._plain, None)
            except Exception as exc:  # fastavro raises many types on corrupt input
                raise AvroDecodeError(f"body does not match schema {SCHEMA}: {exc}") from exc
            if buf.read(1):
                raise AvroDecodeError(f"trailing bytes after a {SCHEMA} record")
            return dict(record)
        name, decoded = self.codec.decode(value)
        if name != SCHEMA:
            raise InvalidLine(f"a {name} record is not a {SCHEMA}")
        cents = int(decoded["salary"].scaleb(2))
        return decoded | {"period": decoded["period"].toordinal() - _EPOCH,
                          "salary": cents.to_bytes(8, "big", signed=True)}  # fmt: skip

    def _dead_letter_in_batch(
        self, conn: psycopg.Connection[Any], record: ConsumerRecord, reason: str
    ) -> None:
        """A line that breaks a rule is refused (the employer declares it again, corrected); a line this
        consumer cannot read is parked for replay once the cause (e.g. an unknown schema) is fixed."""
        disposition = parked.REFUSED if reason.startswith(InvalidLine.__name__) else parked.PARKED
        parked.put(conn, self.name, [(record, reason)], disposition)


class _Writer:
    """The consumer's database side, in a thread with its own connection: applies prepared polls in
    order, one transaction each. Its failure surfaces in the polling thread at the next submit."""

    def __init__(self, member: DeclarationsConsumer) -> None:
        self.member = member
        self.queue: queue.Queue[Prepared | None] = queue.Queue(maxsize=1)
        self.error: BaseException | None = None
        self._replaced: list[TopicPartition] = []
        self._thread = threading.Thread(target=self._run, name=f"{member.name}-writer", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        try:
            with psycopg.connect(self.member.settings.database.url, autocommit=True) as conn:
                while (prepared := self.queue.get()) is not None:
                    try:
                        self._replaced += self._apply(conn, prepared)
                    finally:
                        self.queue.task_done()
        except BaseException as exc:  # handed to the polling thread, which restarts the consumer
            self.error = exc
            with contextlib.suppress(queue.Empty, ValueError):
                while True:  # unblock submit() and drain()
                    self.queue.get_nowait()
                    self.queue.task_done()

    def _apply(self, conn: psycopg.Connection[Any], prepared: Prepared) -> list[TopicPartition]:
        """The poll in one transaction; line by line when it fails for a reason of its own. A transient
        fault goes up: the consumer starts again from the stored positions after a pause."""
        try:
            return self.member.apply(conn, prepared)
        except TRANSIENT:
            raise
        except Exception as exc:
            if conn.broken:
                raise
            log.warning("declarations.batch_fallback", consumer=self.member.name, error=type(exc).__name__)
            return self.member.apply_each(conn, prepared)

    def _check(self) -> None:
        if self.error is not None:
            raise self.error

    def submit(self, prepared: Prepared) -> None:
        self._check()
        while True:
            try:
                self.queue.put(prepared, timeout=0.5)
                return
            except queue.Full:
                self._check()

    def drain(self) -> None:
        """Wait until every submitted poll is committed (positions then tell where to resume)."""
        while self.queue.unfinished_tasks and self._thread.is_alive():
            time.sleep(0.005)
        self._check()

    def replaced(self) -> list[TopicPartition]:
        self._check()
        found, self._replaced = self._replaced, []
        return found

    def close(self) -> None:
        if self._thread.is_alive():
            with contextlib.suppress(queue.Full):
                self.queue.put(None, timeout=30)
            self._thread.join(timeout=30)


def _by_partition(records: list[ConsumerRecord]) -> dict[TopicPartition, list[ConsumerRecord]]:
    """Records as a poll returns them: by partition, in order."""
    polled: dict[TopicPartition, list[ConsumerRecord]] = {}
    for record in records:
        polled.setdefault(TopicPartition(record.topic, record.partition), []).append(record)
    return polled


def _long(n: int) -> bytes:
    """An Avro long (zig-zag varint) for a non-negative n."""
    n <<= 1
    out = bytearray()
    while n > 0x7F:
        out.append((n & 0x7F) | 0x80)
        n >>= 7
    out.append(n)
    return bytes(out)


def _without_logical_types(schema: Any) -> Any:
    """The same schema (same canonical form and fingerprint) with its logical types left undecoded."""
    if isinstance(schema, dict):
        return {key: _without_logical_types(value) for key, value in schema.items()
                if key not in ("logicalType", "precision", "scale")}  # fmt: skip
    if isinstance(schema, list):
        return [_without_logical_types(item) for item in schema]
    return schema
