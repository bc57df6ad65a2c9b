"""Kafka at the edge: topic creation, the idempotent producer, and a consumer that keeps its position
in Postgres in the same transaction as its effects (so redelivery after a crash is a no-op)."""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass
from typing import Any

import psycopg
import structlog
from eventsourcing import persistence as es
from eventsourcing.persistence import PersistenceError
from kafka import ConsumerRebalanceListener, KafkaAdminClient, KafkaConsumer, KafkaProducer, TopicPartition
from kafka.admin import NewTopic
from kafka.consumer.fetcher import ConsumerRecord
from kafka.errors import (
    ClusterAuthorizationFailedError,
    KafkaError,
    KafkaTimeoutError,
    OffsetOutOfRangeError,
    TopicAlreadyExistsError,
    TopicAuthorizationFailedError,
)

from ipe_claims.adapters import parked
from ipe_claims.settings import (
    PORTAL_TOPIC_PARTITIONS,
    TOPIC_CONFIGS,
    TOPIC_PARTITIONS,
    Settings,
    portal_topic,
)

log = structlog.get_logger()

# A consumer's one handler: the records of a poll (or one of them, in the fallback) in the caller's transaction.
Handler = Callable[[psycopg.Connection[Any], list[ConsumerRecord]], None]


@dataclass(frozen=True)
class Take:
    """The record is the next of its partition: handle it."""


@dataclass(frozen=True)
class Skip:
    """The record is below the stored position: handled already (a redelivery)."""


@dataclass(frozen=True)
class Handled:
    """The record took effect, was parked, or had taken effect already: go on to the next."""


@dataclass(frozen=True)
class Retry:
    """Try the record again after a pause (a transient fault, or one of its first failures)."""


@dataclass(frozen=True)
class StartOver:
    """The partition's log was replaced (a broker that lost its data): read it from its beginning."""


@dataclass(frozen=True)
class Seek:
    """The fetch skipped records: read the partition again from ``offset``, the stored position."""

    offset: int


class MemberStalled(Exception):
    """The member polled for ``STALL_SECONDS`` without a record while records waited: ``run`` starts it
    again."""


# What the stored position says of a record, and what became of it.
Verdict = Take | Skip | Retry | StartOver | Seek
Outcome = Handled | Retry | StartOver | Seek
UNKNOWN_TOPIC_ID = "00000000-0000-0000-0000-000000000000"  # what metadata says of a topic that is gone
# Faults of what a handler talks to, not of the record: retried with backoff for as long as they last.
# (A serialization failure or deadlock is a psycopg OperationalError; the event store's IntegrityError is a
# lost race for a claim's next version, which the retry finds settled.)
TRANSIENT: tuple[type[BaseException], ...] = (
    psycopg.OperationalError, psycopg.InterfaceError, es.OperationalError, es.InterfaceError,
    es.IntegrityError, KafkaError, ConnectionError, TimeoutError,
)  # fmt: skip
# run() starts the member again
RESTARTABLE: tuple[type[BaseException], ...] = (*TRANSIENT, PersistenceError, MemberStalled)
RETRY_FIRST_SECONDS = 0.5  # the first pause before a record is tried again; it doubles up to the next
RETRY_MAX_SECONDS = 30.0


def backoff(failures: int) -> float:
    """The pause after the ``failures``-th consecutive failure: 0.5 s, 1 s, 2 s, … up to 30 s."""
    return min(RETRY_MAX_SECONDS, RETRY_FIRST_SECONDS * 2.0 ** max(0, failures - 1))


# Answers to a topic creation that leave the topic to someone else: it exists, or we may not create it.
NOT_MINE = tuple(e.errno for e in (TopicAlreadyExistsError, TopicAuthorizationFailedError,
                                   ClusterAuthorizationFailedError))  # fmt: skip
PATTERN_REFRESH_MS = 10_000  # a pattern subscriber finds a new topic (a new portal's) within this
# A member that joined while its topic's partitions were not in its metadata yet (a topic just created,
# its leaders still being elected) is given no partition; the group is joined again only when the
# client's metadata changes, which kafka-python refreshes every 5 minutes by default. Every 5 s instead.
METADATA_REFRESH_MS = 5_000
# A stop is honoured within seconds in any state. kafka-python waits up to request_timeout_ms (30 s) for
# the LeaveGroup of ``close``, and a member still joining its group gets no answer before the broker ends
# the join (up to the rebalance timeout, 5 min by default): past the supervisor's 15 s, the process would
# be killed. The leave is a courtesy (the broker drops a silent member after its session timeout), so
# it gets 1 s. A broker out of reach at the start is given 5 s, not 30, before the member starts again.
CLOSE_TIMEOUT_MS = 1_000
BOOTSTRAP_TIMEOUT_MS = 5_000


LIST_TOPICS_TIMEOUT_MS = 5_000
# A member whose polls bring nothing for this long while its partitions hold records past its positions
# joins again with a new client: kafka-python 3 was seen, on a 3-node cluster with a node killed, to keep
# a member polling without fetching (its group lost, its fetch positions never set), consuming nothing
# and saying nothing. Every position is in Postgres, so starting over loses and repeats nothing.
STALL_SECONDS = 30.0
OFFSETS_TIMEOUT_MS = 5_000


def waiting(
    stored: dict[TopicPartition, int | None], beginnings: dict[TopicPartition, int],
    ends: dict[TopicPartition, int],
) -> dict[TopicPartition, int]:  # fmt: skip
    """How many records wait in each partition past the stored position (from the log's beginning where
    none is stored, or where the position refers to a log the broker lost); partitions with none left out."""
    behind = {}
    for tp, end in ends.items():
        start = stored.get(tp)
        count = end - max(start if start is not None else 0, beginnings.get(tp, 0))
        if count > 0:
            behind[tp] = count
    return behind


class StallWatch:
    """When a member's polls last brought records, and whether it is time to ask the broker if records
    wait: after ``seconds`` of empty polls, then every ``seconds`` while they stay empty."""

    def __init__(self, seconds: float = STALL_SECONDS, clock: Callable[[], float] = time.monotonic) -> None:
        self.seconds = seconds
        self.clock = clock
        self.quiet_since: float | None = None

    def polled(self, got_records: bool) -> bool:
        """Note a poll; True when the member has been quiet for ``seconds`` since the last look."""
        now = self.clock()
        if got_records or self.quiet_since is None:
            self.quiet_since = None if got_records else now
            return False
        if now - self.quiet_since < self.seconds:
            return False
        self.quiet_since = now
        return True


def _group_state(consumer: KafkaConsumer) -> dict[str, str]:
    """What the client believes of its group (kafka-python internals, read only): for a stall's log line,
    to tell a member stuck re-joining (heartbeats off) from one that holds partitions and fetches nothing."""
    coordinator = getattr(consumer, "_coordinator", None)
    names = ("state", "rejoin_needed", "_heartbeat_enabled", "_join_task", "coordinator_id")
    return {name.lstrip("_"): str(getattr(coordinator, name, "?")) for name in names}


def list_topics(consumer: KafkaConsumer, known: Sequence[str]) -> set[str]:
    """The broker's topics, asked with a bound: ``KafkaConsumer.topics()`` waits for its metadata answer with
    no timeout, and a connection lost at that moment (a broker killed) once left a member waiting for ever —
    no poll, dropped from its group, nothing consumed. Without an answer in time, the topics ``known`` stand
    until the next look. The same request as ``topics()``, through the same kafka-python internals."""
    cluster = consumer._client.cluster
    wanted_all, cluster.need_all_topic_metadata = cluster.need_all_topic_metadata, True
    try:
        consumer._net.run(consumer._manager.wait_for, cluster.request_update(), LIST_TOPICS_TIMEOUT_MS)
    except KafkaTimeoutError:
        log.warning("consumer.topics_unanswered", timeout_ms=LIST_TOPICS_TIMEOUT_MS)
        return set(known)
    finally:
        cluster.need_all_topic_metadata = wanted_all
    return set(cluster.topics())


def matching(topics: set[str], pattern: str) -> list[str]:
    """The topics a pattern subscriber consumes, in a stable order."""
    return sorted(topic for topic in topics if re.fullmatch(pattern, topic))


class PoisonMessage(Exception):
    """A message that can never be handled: it goes to the dead letters with this reason."""


def ensure_topics(bootstrap_servers: str, portals: Collection[str] = (), **security: str) -> list[str]:
    """Create the topics, and the ``portals``' own topics, with their final partition counts; return
    those created now.

    Replication is the cluster's ``default.replication.factor`` (-1 asks the broker), so a topic the
    relay recreates after a loss is as replicated as the rest. ``security``: ``Settings.kafka_options()``.
    A topic this principal may not create (ACLs: the relay may create only ipe.claim-events) is left to
    the admin, whose cluster does not lose it.
    """
    wanted = {name: (count, TOPIC_CONFIGS.get(name)) for name, count in TOPIC_PARTITIONS.items()}
    wanted |= {portal_topic(portal): (PORTAL_TOPIC_PARTITIONS, None) for portal in portals}
    admin = KafkaAdminClient(bootstrap_servers=bootstrap_servers, client_id="ipe-admin", **security)
    try:
        existing = set(admin.list_topics())
        missing = [NewTopic(name, count, -1, topic_configs=configs)
                   for name, (count, configs) in wanted.items() if name not in existing]  # fmt: skip
        if not missing:
            return []
        answered = admin.create_topics(missing, raise_errors=False)["topics"]
    finally:
        admin.close()
    failed = [t for t in answered if t["error_code"] not in (0, *NOT_MINE)]
    if failed:
        raise KafkaError(f"creating topics failed: {failed}")
    return [t["name"] for t in answered if t["error_code"] == 0]


def topic_id(bootstrap_servers: str, topic: str, **security: str) -> str | None:
    """The topic's id (KIP-516): a broker that lost its data and recreated the topic gives a new one."""
    admin = KafkaAdminClient(bootstrap_servers=bootstrap_servers, client_id="ipe-admin", **security)
    try:
        found = admin.describe_topics([topic])
    finally:
        admin.close()
    return str(found[0]["topic_id"]) if found and found[0].get("topic_id") else None


def make_producer(settings: Settings, **overrides: Any) -> KafkaProducer:
    options: dict[str, Any] = {
        "bootstrap_servers": settings.kafka.bootstrap_servers,
        "acks": "all",
        "enable_idempotence": True,
        "max_in_flight_requests_per_connection": 5,
        "linger_ms": 5,
        "retries": 10,
        # Never let a send recreate a lost topic with the broker's default partition count: the relay
        # recreates topics itself, and notices from the new topic id that it must re-publish.
        "allow_auto_create_topics": False,
        **settings.kafka_options(),
    }
    options.update(overrides)
    return KafkaProducer(**options)


def headers(**values: str) -> list[tuple[str, bytes]]:
    return [(name.replace("_", "-"), value.encode()) for name, value in values.items()]


def header(record: ConsumerRecord, name: str) -> str | None:
    for key, value in record.headers or []:
        if key == name:
            return bytes(value).decode(errors="replace")
    return None


class TrackedConsumer:
    """A consumer-group member whose positions live in ``consumer_positions``, with ONE handler.

    A poll goes through the handler in **one** transaction that also stores every polled partition's
    position: commits and event-store saves are shared by up to ``max_poll_records`` records. Anything
    unusual (a position that is not where the poll starts, a lost log, any error of the handler) rolls
    the poll back, and its records go through the same handler one at a time, each in its own
    transaction that checks its position first. There, what goes wrong is one of two kinds
    (docs/operations.md, "Parked records"):

    - a fault of what the handler talks to (``TRANSIENT``: the database or the broker away, a
      serialization conflict, a lost race): the position stays, and the record is tried again after a
      pause that doubles up to 30 s, as long as the fault lasts. Nothing is skipped.
    - a record the consumer can never handle: one of ``poison`` (undecodable) at once, or any other error
      raised ``settings.poison_attempts`` times in a row by the same record (a domain error that recurs
      deterministically, a bug). It is parked (``adapters.parked``) with its reason and coordinates in the
      transaction that moves the position past it, and the partition goes on; an auditor replays it once
      the cause is fixed.
    """

    def __init__(
        self,
        settings: Settings,
        name: str,
        topics: list[str],
        handler: Handler,
        poison: tuple[type[Exception], ...] = (PoisonMessage,),
        pattern: str | None = None,
    ) -> None:
        """``pattern``: consume every topic whose name matches it (instead of ``topics``). The member
        lists the broker's topics every ``PATTERN_REFRESH_MS`` and subscribes again by name when the
        matching set changed: neither the client's own pattern subscription (kafka-python 3 sometimes
        never sees a later topic) nor the embedded broker (which never shows one) can be relied on."""
        self.settings = settings
        self.pattern = pattern
        self.poison = poison
        self.name = name
        self.topics = topics
        self.handler = handler
        self.handled = 0
        self.batches = 0  # polls handled in one transaction
        self.subscribed: list[str] = []  # the topics the member consumes now
        self._topic_ids: Callable[[str], str | None] = lambda _topic: None
        self._refresh_metadata: Callable[[], object] = lambda: None
        self._gaps: set[tuple[str, int, int]] = set()
        self._failures: dict[tuple[str, int, int], int] = {}  # consecutive failures of the record at hand
        self.parked = 0
        self.stall_seconds = STALL_SECONDS
        self.stalls = 0  # times the member started over because it got nothing while records waited
        self._looked: dict[TopicPartition, int | None] = {}  # positions at the last look, without partitions

    def _positions(self, conn: psycopg.Connection[Any]) -> dict[TopicPartition, int | None]:
        """Stored positions; None for a partition whose position refers to a log the broker lost."""
        rows = conn.execute(
            "SELECT topic, partition, next_offset, topic_id FROM consumer_positions WHERE consumer = %s",
            (self.name,),
        ).fetchall()
        return {
            TopicPartition(topic, partition): offset if self._same_log(topic, stored) else None
            for topic, partition, offset, stored in rows
        }

    def _same_log(self, topic: str, stored_id: str | None) -> bool:
        current = self._topic_ids(topic)
        return stored_id is None or current is None or stored_id == current

    def run(self, stop: threading.Event) -> None:
        """Consume until ``stop``; a lost connection (database or broker) restarts the member after a
        pause that doubles while the fault lasts."""
        restarts, handled_before = 0, self.handled
        while not stop.is_set():
            try:
                self._run(stop)
            except RESTARTABLE as exc:
                restarts = restarts + 1 if self.handled == handled_before else 1
                handled_before = self.handled
                log.warning("consumer.restart", consumer=self.name, error=type(exc).__name__,
                            pause=backoff(restarts))  # fmt: skip
                stop.wait(backoff(restarts))

    def _run(self, stop: threading.Event) -> None:
        # autocommit: every effect goes through an explicit transaction() block, committed at its end.
        with psycopg.connect(self.settings.database.url, autocommit=True) as conn:
            consumer = self._consumer()
            try:
                self._loop(conn, consumer, stop)
            finally:
                consumer.close(autocommit=False, timeout_ms=CLOSE_TIMEOUT_MS)

    def _consumer(self, **options: Any) -> KafkaConsumer:
        """A group member with this process's settings (``options`` override the defaults), and the
        topic-id lookup that tells a position in a lost log from a current one."""
        consumer = KafkaConsumer(
            bootstrap_servers=self.settings.kafka.bootstrap_servers,
            group_id=self.name,
            client_id=self.name,
            enable_auto_commit=False,
            # No silent reset: a position beyond the log's end means the broker lost the log, and the member
            # must learn the new log's topic id before it stores a position in it (``poll``).
            auto_offset_reset="none",
            allow_auto_create_topics=False,  # a lost topic is recreated by the relay, with its partitions
            fetch_max_wait_ms=100,
            **(
                {
                    "max_poll_records": 200,
                    "metadata_max_age_ms": METADATA_REFRESH_MS,
                    "bootstrap_timeout_ms": BOOTSTRAP_TIMEOUT_MS,
                }
                | self.settings.consumer_timeouts()
                | options
                | self.settings.kafka_options()
            ),
        )
        cluster = consumer._client.cluster  # kafka-python exposes topic ids only on its cluster metadata
        self._topic_ids = lambda topic: (
            None if cluster.topic_id(topic) is None else str(cluster.topic_id(topic))
        )
        self._refresh_metadata = cluster.request_update
        return consumer

    def poll(self, consumer: KafkaConsumer) -> dict[TopicPartition, list[ConsumerRecord]]:
        """A poll; a position beyond its log's end (the broker lost the log and a new one began) first
        brings the topic ids up to date, then starts those partitions over from the new log's beginning.
        Reset silently, the member would store positions in the new log under the old log's id until its
        metadata's next refresh, and take the new log's first records for redeliveries."""
        try:
            polled: dict[TopicPartition, list[ConsumerRecord]] = consumer.poll(timeout_ms=200)
        except OffsetOutOfRangeError as exc:
            partitions = list(exc.args[0]) if exc.args and isinstance(exc.args[0], dict) else []
            list_topics(consumer, self.subscribed)  # a metadata answer before going on: the new topic ids
            log.warning("consumer.log_shorter_than_position", consumer=self.name,
                        partitions=[f"{tp.topic}/{tp.partition}" for tp in partitions])  # fmt: skip
            if partitions:
                consumer.seek_to_beginning(*partitions)
            return {}
        return polled

    def _loop(self, conn: psycopg.Connection[Any], consumer: KafkaConsumer, stop: threading.Event) -> None:
        consumer_ref = self

        class SeekToStored(ConsumerRebalanceListener):  # type: ignore[misc]  # kafka-python is untyped
            def on_partitions_revoked(self, revoked: Any) -> None:
                return None

            def on_partitions_assigned(self, assigned: Any) -> None:
                stored = consumer_ref._positions(conn)
                for tp in assigned:
                    if tp not in stored:
                        consumer.seek_to_beginning(tp)  # never consumed by this member's group
                        continue
                    offset = stored[tp]
                    if offset is None:  # the position refers to a log the broker lost
                        log.warning("consumer.log_replaced", consumer=consumer_ref.name, topic=tp.topic,
                                    partition=tp.partition)  # fmt: skip
                        consumer.seek_to_beginning(tp)
                    else:
                        consumer.seek(tp, offset)
                log.info("consumer.assigned", consumer=consumer_ref.name, partitions=len(assigned))

        listener, subscribed, looked = SeekToStored(), list(self.topics), 0.0
        watch = StallWatch(self.stall_seconds)
        self.subscribed = subscribed
        if subscribed:
            consumer.subscribe(subscribed, listener=listener)
        while not stop.is_set():
            if self.pattern and time.monotonic() - looked >= PATTERN_REFRESH_MS / 1000:
                looked, found = time.monotonic(), matching(list_topics(consumer, subscribed), self.pattern)
                if found != subscribed:
                    log.info("consumer.topics", consumer=self.name, topics=len(found))
                    subscribed = self.subscribed = found
                    if subscribed:
                        consumer.subscribe(subscribed, listener=listener)
                    else:
                        consumer.unsubscribe()
            if not subscribed:  # nothing to consume yet (no portal has a topic)
                stop.wait(0.2)
                continue
            batch = self.poll(consumer)
            if watch.polled(bool(batch)):
                self._check_stall(conn, consumer)
            if not batch or self._handle_poll(conn, batch):
                continue
            for tp, records in batch.items():
                for record in records:
                    if stop.is_set():
                        return
                    match self._handle_one(conn, record):
                        case Handled():
                            continue
                        case Retry():
                            consumer.seek(tp, record.offset)  # try this record again, after a pause
                            failures = self._failures.get((tp.topic, tp.partition, record.offset), 1)
                            stop.wait(backoff(failures))
                        case StartOver():
                            consumer.seek_to_beginning(tp)
                        case Seek(offset):
                            consumer.seek(tp, offset)
                    break

    def _check_stall(self, conn: psycopg.Connection[Any], consumer: KafkaConsumer) -> None:
        """After ``stall_seconds`` of empty polls: raise ``MemberStalled`` when records wait past the
        stored positions of the member's partitions (it should have had them). A member without partitions
        (its group lost, or more members than partitions) looks at every partition of its topics, and is
        stalled only where a position has not moved since its last look: another member may hold them.
        Nothing when the broker cannot say."""
        assigned = sorted(consumer.assignment())
        cluster = consumer._client.cluster  # the metadata at hand, without a request that may wait
        partitions = assigned or sorted(
            TopicPartition(topic, partition)
            for topic in self.subscribed
            for partition in cluster.partitions_for_topic(topic) or ()
        )
        if not partitions:
            return
        try:
            ends = consumer.end_offsets(partitions, timeout_ms=OFFSETS_TIMEOUT_MS)
            beginnings = consumer.beginning_offsets(partitions, timeout_ms=OFFSETS_TIMEOUT_MS)
        except KafkaError:
            return  # look again after the next quiet spell
        stored = self._positions(conn)
        behind = waiting(stored, beginnings, ends)
        if assigned:
            # ... and its client fetches short of the end somewhere (past a transaction marker, it does
            # not); ``any`` stops at the first such partition.
            if not any(self._fetching_short(consumer, tp, ends[tp]) for tp in behind):
                behind = {}
        else:
            before, self._looked = self._looked, {tp: stored.get(tp) for tp in partitions}
            behind = {tp: n for tp, n in behind.items() if tp in before and before[tp] == stored.get(tp)}
        if behind:
            self.stalls += 1
            log.warning("consumer.stalled", consumer=self.name, quiet_seconds=self.stall_seconds,
                        assigned=len(assigned), client=_group_state(consumer),
                        waiting={f"{tp.topic}/{tp.partition}": n for tp, n in sorted(behind.items())})  # fmt: skip
            raise MemberStalled(f"{sum(behind.values())} records waiting in {len(behind)} partitions")

    @staticmethod
    def _fetching_short(consumer: KafkaConsumer, tp: TopicPartition, end: int) -> bool:
        """Whether the client's fetch position is short of the log's end, or unknown after a bounded wait
        (its reset never answered). A stored position short of the end is not enough: records of a
        transactional producer leave a commit marker at the end, which the client steps over and no
        record ever brings the stored position past."""
        try:
            return bool(consumer.position(tp, timeout_ms=OFFSETS_TIMEOUT_MS) < end)
        except KafkaTimeoutError:
            return True
        except KafkaError:
            return False  # e.g. the partition went to another member meanwhile: it cannot say

    def _handle_poll(
        self, conn: psycopg.Connection[Any], polled: dict[TopicPartition, list[ConsumerRecord]]
    ) -> bool:
        """The poll in one transaction; False (nothing done) when its records must go one at a time."""
        try:
            with conn.transaction():
                fresh = self._fresh_records(conn, polled)
                if fresh is None:
                    return False  # leaving the block commits nothing: only the positions were read
                if fresh:
                    self.handler(conn, fresh)
                self._advance_past(conn, fresh)
        except Exception as exc:
            if conn.closed or conn.broken:
                raise  # the connection is gone: ``run`` starts the member again, after a pause
            log.info("consumer.batch_fallback", consumer=self.name, records=sum(map(len, polled.values())),
                     error=type(exc).__name__)  # fmt: skip
            return False
        self.handled += len(fresh)
        self.batches += 1
        return True

    def _handle_one(self, conn: psycopg.Connection[Any], record: ConsumerRecord) -> Outcome:
        """The handler on this record alone, in a transaction that first checks it is the next one."""
        try:
            with conn.transaction():
                match self._check_position(conn, record):
                    case Skip():
                        return Handled()
                    case Retry() | StartOver() | Seek() as verdict:
                        return verdict
                self.handler(conn, [record])
                self._advance_past(conn, [record])
        except self.poison as exc:
            return self._park(conn, record, f"{type(exc).__name__}: {exc}")
        except Exception as exc:
            if conn.closed or conn.broken:
                raise  # the connection is gone: ``run`` starts the member again, after a pause
            return self._failed(conn, record, exc)
        self._failures.pop((record.topic, record.partition, record.offset), None)
        self.handled += 1
        return Handled()

    def _failed(self, conn: psycopg.Connection[Any], record: ConsumerRecord, exc: Exception) -> Outcome:
        """Retry after a transient fault or the first failures of a record; the record parked (Handled)
        once it has failed ``settings.poison_attempts`` times in a row for a reason of its own."""
        key = (record.topic, record.partition, record.offset)
        failures = self._failures[key] = self._failures.get(key, 0) + 1
        transient = isinstance(exc, TRANSIENT)
        coordinates = {"consumer": self.name, "topic": record.topic, "partition": record.partition,
                       "offset": record.offset, "error": type(exc).__name__, "failures": failures}  # fmt: skip
        if transient or failures < self.settings.kafka.poison_attempts:
            log.warning("consumer.retry_record", transient=transient, pause=backoff(failures), **coordinates)
            return Retry()
        log.error("consumer.poison", **coordinates)  # the message, which may quote data, goes to the store
        return self._park(conn, record, f"{type(exc).__name__}: {exc} (failed {failures} times)")

    def _fresh_records(
        self, conn: psycopg.Connection[Any], polled: dict[TopicPartition, list[ConsumerRecord]]
    ) -> list[ConsumerRecord] | None:
        """The records at or past each partition's stored position (locked for this transaction), in
        poll order; None when a partition needs the record path (a lost log, a gap to seek back over)."""
        stored = self._lock_positions(conn, list(polled))
        fresh: list[ConsumerRecord] = []
        for tp, records in polled.items():
            if self._topic_ids(tp.topic) == UNKNOWN_TOPIC_ID:
                return None
            position = stored.get((tp.topic, tp.partition))
            if position is None:
                fresh.extend(records)
                continue
            next_offset, stored_id = position
            if not self._same_log(tp.topic, stored_id):
                return None
            taken = [record for record in records if record.offset >= next_offset]
            if taken and taken[0].offset > next_offset:
                return None  # records were skipped: the record path seeks back to the position
            fresh.extend(taken)
        return fresh

    def _lock_positions(
        self, conn: psycopg.Connection[Any], partitions: list[TopicPartition]
    ) -> dict[tuple[str, int], tuple[int, str | None]]:
        """The stored (next offset, topic id) of these partitions, locked for this transaction by one
        query. Only the polled partitions' rows, in one order: another member's stay unlocked, and two
        members never wait on each other in opposite orders."""
        rows = conn.execute(
            "SELECT topic, partition, next_offset, topic_id FROM consumer_positions WHERE consumer = %s "
            "AND (topic, partition) IN (SELECT * FROM unnest(%s::text[], %s::int[])) "
            "ORDER BY topic, partition FOR UPDATE",
            (self.name, [tp.topic for tp in partitions], [tp.partition for tp in partitions]),
        ).fetchall()
        return {(topic, partition): (offset, topic_id) for topic, partition, offset, topic_id in rows}

    def _check_position(self, conn: psycopg.Connection[Any], record: ConsumerRecord) -> Verdict:
        """The stored position, not the broker's, decides whether this record is the next to handle.

        A record below the position was handled already (a redelivery: Skip). A record of a log the
        broker lost and rebuilt (new topic id) means the partition starts over from its beginning. A
        record beyond the position means the fetch skipped some: seek back to the position, once (a
        second time it is a real gap, e.g. retention, and the record is taken).
        """
        row = conn.execute(
            "SELECT next_offset, topic_id FROM consumer_positions WHERE consumer = %s AND topic = %s "
            "AND partition = %s FOR UPDATE",
            (self.name, record.topic, record.partition),
        ).fetchone()
        if self._topic_ids(record.topic) == UNKNOWN_TOPIC_ID:
            self._refresh_metadata()  # the topic came back after our metadata said it was gone: learn its id
            return Retry()
        if row is None:
            return Take()
        next_offset, stored_id = row
        if not self._same_log(record.topic, stored_id):
            log.warning("consumer.log_replaced", consumer=self.name, topic=record.topic,
                        partition=record.partition, stale_position=next_offset)  # fmt: skip
            conn.execute(
                "DELETE FROM consumer_positions WHERE consumer = %s AND topic = %s AND partition = %s",
                (self.name, record.topic, record.partition),
            )
            return StartOver()
        if record.offset < next_offset:
            return Skip()
        if record.offset > next_offset:
            gap = (record.topic, record.partition, next_offset)
            if gap not in self._gaps:
                self._gaps.add(gap)
                return Seek(int(next_offset))
            log.warning("consumer.gap_accepted", consumer=self.name, topic=record.topic,
                        partition=record.partition, expected=next_offset, offset=record.offset)  # fmt: skip
        return Take()

    def _advance_past(self, conn: psycopg.Connection[Any], records: list[ConsumerRecord]) -> None:
        """Store the position past the last of these records in each partition, in one statement."""
        last: dict[tuple[str, int], ConsumerRecord] = {}
        for record in records:
            last[record.topic, record.partition] = record
        if not last:
            return
        conn.execute(
            "INSERT INTO consumer_positions (consumer, topic, partition, next_offset, topic_id) "
            "SELECT %s, * FROM unnest(%s::text[], %s::int[], %s::bigint[], %s::text[]) "
            "ON CONFLICT (consumer, topic, partition) DO UPDATE "
            "SET next_offset = EXCLUDED.next_offset, topic_id = EXCLUDED.topic_id",
            (self.name, [r.topic for r in last.values()], [r.partition for r in last.values()],
             [r.offset + 1 for r in last.values()], [self._topic_ids(r.topic) for r in last.values()]),
        )  # fmt: skip

    def _park(self, conn: psycopg.Connection[Any], record: ConsumerRecord, reason: str) -> Outcome:
        """Park the record and move the position past it, in one transaction that first checks the record
        is still the next one (another member may have taken the partition meanwhile)."""
        with conn.transaction():
            match self._check_position(conn, record):
                case Skip():
                    return Handled()
                case Retry() | StartOver() | Seek() as verdict:
                    return verdict
            parked.put(conn, self.name, [(record, reason)])
            self._advance_past(conn, [record])
        log.warning("consumer.parked", consumer=self.name, topic=record.topic, partition=record.partition,
                    offset=record.offset, reason=reason[:200])  # fmt: skip
        self._failures.pop((record.topic, record.partition, record.offset), None)
        self.parked += 1
        self.handled += 1  # passed, as a handled record is
        return Handled()
