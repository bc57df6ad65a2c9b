"""The declarations consumer against the harness broker and Postgres: lines published on
``cnss.declarations`` become the contribution history, once, in order, and bad lines are dead-lettered."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date
from decimal import Decimal
from typing import Any

import psycopg
import pytest
from kafka import TopicPartition
from kafka.consumer.fetcher import ConsumerRecord

from ipe_claims.adapters import parked
from ipe_claims.adapters.avro import AvroCodec
from ipe_claims.adapters.declarations_kafka import SCHEMA, DeclarationsConsumer, publish, to_record
from ipe_claims.adapters.kafka import make_producer
from ipe_claims.settings import DECLARATIONS_TOPIC, Settings
from tests.conftest import random_digits, wait_for
from tests.conftest import running as running_loop

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def codec(settings: Settings) -> AvroCodec:
    return AvroCodec(settings.schemas_dir)


def lines(months: list[date], days: int = 26, salary: str = "4000.00") -> list[tuple[Any, ...]]:
    affiliation, immatriculation, cin = random_digits(7), random_digits(9), f"K{random_digits(6)}"
    return [(affiliation, immatriculation, cin, "NOMK", "PRENOMK", month, days, Decimal(salary))
            for month in months]  # fmt: skip


@contextmanager
def running(settings: Settings, codec: AvroCodec, group: str) -> Iterator[DeclarationsConsumer]:
    consumer = DeclarationsConsumer(settings, codec, name=group)
    with running_loop(consumer.run):
        yield consumer


def history(conn: psycopg.Connection[Any], immatriculation: str) -> list[tuple[Any, ...]]:
    return conn.execute(
        "SELECT affiliation_number, period, days, salary FROM declarations WHERE immatriculation = %s "
        "ORDER BY period",
        (immatriculation,),
    ).fetchall()


def send(settings: Settings, codec: AvroCodec, rows: list[tuple[Any, ...]], raw: list[bytes] = ()) -> None:
    producer = make_producer(settings)
    try:
        for value in raw:
            producer.send(DECLARATIONS_TOPIC, key=b"raw", value=value)
        publish(producer, codec, rows)
    finally:
        producer.close()


def test_published_lines_become_the_contribution_history(settings: Settings, codec: AvroCodec, conn) -> None:
    months = [date(2025, m, 1) for m in range(1, 13)]
    rows = lines(months)
    affiliation, immatriculation = rows[0][0], rows[0][1]
    send(settings, codec, rows)
    with running(settings, codec, f"decl-{uuid.uuid4().hex[:8]}"):
        found = wait_for(lambda: len(history(conn, immatriculation)) == 12 and history(conn, immatriculation),
                         what="12 declared months")  # fmt: skip
    assert found == [(affiliation, month, 26, Decimal("4000.00")) for month in months]
    insured = conn.execute(
        "SELECT cin, nom FROM insured WHERE immatriculation = %s", (immatriculation,)
    ).fetchone()
    assert insured == (rows[0][2], "NOMK")


def test_a_later_line_replaces_an_earlier_one_and_a_restart_applies_nothing_twice(
    settings: Settings, codec: AvroCodec, conn
) -> None:
    group = f"decl-{uuid.uuid4().hex[:8]}"
    first = lines([date(2025, 3, 1)], days=10, salary="1000.00")
    correction = [(*first[0][:6], 22, Decimal("3100.50"))]
    send(settings, codec, first + correction)
    immatriculation = first[0][1]
    with running(settings, codec, group):
        wait_for(lambda: history(conn, immatriculation) == [(first[0][0], date(2025, 3, 1), 22, Decimal("3100.50"))],
                 what="the corrected line")  # fmt: skip
    positions = conn.execute(
        "SELECT sum(next_offset) FROM consumer_positions WHERE consumer = %s", (group,)
    ).fetchone()[0]
    # The same group again: it starts from its stored positions, so the first line is not re-applied over
    # the correction, and a new line is taken.
    later = [(*first[0][:5], date(2025, 4, 1), 26, Decimal("2000.00"))]
    send(settings, codec, later)
    with running(settings, codec, group) as again:
        wait_for(lambda: len(history(conn, immatriculation)) == 2, what="the April line")
        wait_for(lambda: again.handled >= 1, what="the consumer to count the line")
    assert history(conn, immatriculation)[0][2:] == (22, Decimal("3100.50"))
    assert again.handled < positions  # it did not read the topic from the start


def test_bad_lines_are_dead_lettered_and_the_rest_loaded(settings: Settings, codec: AvroCodec, conn) -> None:
    group = f"decl-{uuid.uuid4().hex[:8]}"
    good = lines([date(2025, 5, 1)])
    too_many_days = codec.encode(SCHEMA, to_record((*lines([date(2025, 5, 1)])[0][:6], 40, Decimal("1.00"))))
    mid_month = codec.encode(SCHEMA, to_record((*lines([date(2025, 5, 1)])[0][:5], date(2025, 5, 7), 3,
                                                Decimal("1.00"))))  # fmt: skip
    send(settings, codec, good, raw=[b"not avro at all", too_many_days, mid_month])
    with running(settings, codec, group):
        wait_for(lambda: history(conn, good[0][1]), what="the good line")
        reasons = wait_for(
            lambda: [row[0] for row in conn.execute(
                "SELECT reason FROM dead_letters WHERE consumer = %s ORDER BY message_offset", (group,))]
            if conn.execute("SELECT count(*) FROM dead_letters WHERE consumer = %s", (group,)).fetchone()[0] >= 3
            else None,
            what="three dead letters",
        )  # fmt: skip
    joined = " | ".join(reasons)
    assert "AvroDecodeError" in joined
    assert "days: must be between 0 and 31" in joined
    assert "period: must be the first day of a month" in joined


def test_a_redelivered_batch_is_a_no_op(settings: Settings, codec: AvroCodec, conn) -> None:
    """Records below the stored position (a redelivery after a rebalance) change nothing."""
    group = f"decl-{uuid.uuid4().hex[:8]}"
    consumer = DeclarationsConsumer(settings, codec, name=group)
    row = lines([date(2025, 6, 1)])[0]
    tp = TopicPartition(DECLARATIONS_TOPIC, 0)

    def record(offset: int, days: int) -> ConsumerRecord:
        value = codec.encode(SCHEMA, to_record((*row[:6], days, row[7])))
        return ConsumerRecord(
            DECLARATIONS_TOPIC, 0, 0, offset, 0, 0, b"k", value, [], None, 1, len(value), -1
        )

    consumer.handle_batch(conn, {tp: [record(0, 5), record(1, 6)]})
    consumer.handle_batch(conn, {tp: [record(0, 5)]})  # a stale copy of the first line
    assert history(conn, row[1])[0][2] == 6
    assert consumer.rows == 2


def test_a_poll_with_a_misframed_line_is_decoded_line_by_line(settings: Settings, codec: AvroCodec) -> None:
    """A poll is decoded in one call; a line with a byte too many or too few must not shift its
    neighbours: each is read on its own and only the bad ones are dead-lettered, with the reason."""
    consumer = DeclarationsConsumer(settings, codec, name=f"decl-{uuid.uuid4().hex[:8]}")
    rows = lines([date(2025, month, 1) for month in range(1, 6)], days=20)
    values = [codec.encode(SCHEMA, to_record(row)) for row in rows]
    values[1] += b"\x00"  # trailing byte
    values[3] = values[3][:-1]  # truncated salary
    tp = TopicPartition(DECLARATIONS_TOPIC, 0)
    batch = {tp: [ConsumerRecord(DECLARATIONS_TOPIC, 0, 0, offset, 0, 0, b"k", value, [], None, 1, len(value), -1)
                  for offset, value in enumerate(values)]}  # fmt: skip
    prepared = consumer.prepare(batch)[tp]
    assert [row is None for row in prepared.rows] == [False, True, False, True, False]
    assert "trailing bytes" in prepared.reasons[1] and "AvroDecodeError" in prepared.reasons[3]
    assert [row[5] for row in prepared.rows if row] == [
        (date(2025, m, 1) - date(1970, 1, 1)).days for m in (1, 3, 5)
    ]
    good = consumer.prepare({tp: batch[tp][:1] + batch[tp][2:3]})[tp]  # the fast path gives the same rows
    assert good.rows == [prepared.rows[0], prepared.rows[2]] and not good.reasons


def test_a_line_the_database_refuses_is_parked_and_the_rest_of_the_poll_loaded(
    settings: Settings, codec: AvroCodec, conn
) -> None:
    """A line that passes the consumer's checks but breaks a constraint of the database (here one the test
    adds) fails its poll: the poll is applied line by line, the line is parked after three tries alone,
    its neighbours on the same partition are loaded, and a replay once the constraint is gone loads it."""
    group, marker = f"decl-{uuid.uuid4().hex[:8]}", f"POISON{random_digits(6)}"
    before, poison, after = (lines([date(2025, 7, 1)])[0] for _ in range(3))
    poison = (*poison[:3], marker, *poison[4:])
    constraint = f"test_no_{marker.lower()}"
    conn.execute(f"ALTER TABLE insured ADD CONSTRAINT {constraint} CHECK (nom <> '{marker}') NOT VALID")
    try:
        producer = make_producer(settings)
        key = f"same-partition-{marker}".encode()
        for row in (before, poison, after):
            producer.send(DECLARATIONS_TOPIC, key=key, value=codec.encode(SCHEMA, to_record(row)))
        producer.close()
        with running(settings, codec, group) as consumer:
            wait_for(lambda: history(conn, after[1]), timeout=60, what="the line after the poison one")
            assert history(conn, before[1]) and not history(conn, poison[1])
            (parked_id, reason, disposition) = conn.execute(
                "SELECT id, reason, disposition FROM dead_letters WHERE consumer = %s AND message_key = %s",
                (group, key),  # the topic holds other tests' records too, garbage among them
            ).fetchone()
        assert reason.startswith("CheckViolation") and "failed 3 times" in reason and disposition == "parked"
    finally:
        conn.execute(f"ALTER TABLE insured DROP CONSTRAINT IF EXISTS {constraint}")
    assert parked.replay(conn, parked_id, {group: consumer.merge}) is None  # the cause is gone
    assert history(conn, poison[1]) == [(poison[0], date(2025, 7, 1), 26, Decimal("4000.00"))]
    assert (
        conn.execute("SELECT disposition FROM dead_letters WHERE id = %s", (parked_id,)).fetchone()[0]
        == "replayed"
    )
