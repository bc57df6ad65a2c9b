"""The claims application: the service boundary over the ``eventsourcing`` Postgres event store.

Services are thin: load, call the aggregate, save. Saving a claim and the insured's record in one
transaction is what makes "one open claim per insured" atomic rather than a check-then-act race.
"""

from __future__ import annotations

import functools
import uuid
from collections.abc import Callable, Collection, Iterator, Mapping, Sequence
from datetime import date, datetime
from typing import Any

from eventsourcing.application import AggregateNotFoundError, Application
from eventsourcing.domain import DomainEventProtocol
from eventsourcing.persistence import IntegrityError, JSONTranscoder, Notification, StoredEvent, Transcoding
from eventsourcing.postgres import PostgresAggregateRecorder
from eventsourcing.utils import get_topic
from psycopg.rows import tuple_row
from psycopg.sql import SQL, Identifier

from ipe_claims.application.filing import open_claim
from ipe_claims.domain.claim import CLAIM_EVENTS, Claim, InsuredRecord
from ipe_claims.domain.errors import CodedError
from ipe_claims.domain.notification import Notification as Delivery

CLAIM_TOPICS = tuple(get_topic(event_class) for event_class in CLAIM_EVENTS)


ADVANCE_ATTEMPTS = 3
CLAIM_CHANGED = "claim_changed"


class ClaimKeptChanging(CodedError):
    """Other writers changed the claim at every attempt: nothing was recorded (the caller may try again)."""


class DateAsISO(Transcoding):
    type = date
    name = "date_iso"

    def encode(self, obj: date) -> str:
        return obj.isoformat()

    def decode(self, data: str) -> date:
        return date.fromisoformat(data)


class ClaimsApplication(Application[uuid.UUID]):
    """The one way to the event store: nothing outside this class touches the library's ``recorder``,
    ``mapper``, ``repository`` or ``events`` (tests/unit/test_store_boundary.py checks it). Callers get
    aggregates, domain events or stored notifications from the methods below."""

    name = "ipe"  # the events table is ``ipe_events``

    def register_transcodings(self, transcoder: JSONTranscoder) -> None:
        super().register_transcodings(transcoder)
        transcoder.register(DateAsISO())

    def get_claim(self, claim_id: uuid.UUID, version: int | None = None) -> Claim:
        """The claim (as it stood at ``version``); AggregateNotFoundError when no claim has this id."""
        claim: object = self.repository.get(claim_id, version=version)
        if not isinstance(claim, Claim):  # an insured's record: not a claim's id
            raise AggregateNotFoundError(claim_id)
        return claim

    def find_claim(self, claim_id: uuid.UUID) -> Claim | None:
        try:
            return self.get_claim(claim_id)
        except AggregateNotFoundError:
            return None

    def first_version(self, claim_id: uuid.UUID) -> Claim:
        """The claim as it was submitted (version 1): what a retried submission answers."""
        return self.get_claim(claim_id, version=1)

    def get_delivery(self, delivery_id: uuid.UUID) -> Delivery:
        """The Notification (a message's delivery on one channel); AggregateNotFoundError when none has
        this id, TypeError when the id is another aggregate's."""
        found: object = self.repository.get(delivery_id)
        if not isinstance(found, Delivery):
            raise TypeError(f"{delivery_id} is not a Notification")
        return found

    def claim_events(self, claim_id: uuid.UUID) -> list[DomainEventProtocol[uuid.UUID]]:
        """Every event stored under ``claim_id``, in order, as domain events (the auditor's history)."""
        return list(self.events.get(claim_id))

    def _postgres(self) -> PostgresAggregateRecorder:
        """The Postgres recorder, for the queries the library does not offer (not the in-memory one)."""
        if not isinstance(self.recorder, PostgresAggregateRecorder):
            raise TypeError(f"this needs the Postgres event store, not {type(self.recorder).__name__}")
        return self.recorder

    def get_many(self, ids: Collection[uuid.UUID]) -> dict[uuid.UUID, Any]:
        """The aggregates among ``ids`` that exist, rebuilt from one query instead of one per aggregate:
        a consumer's poll loads every claim it touches at once."""
        if not ids or not isinstance(self.recorder, PostgresAggregateRecorder):
            return {key: self.repository.get(key) for key in ids if key in self.repository}
        with self.recorder.datastore.get_connection() as conn, conn.cursor(row_factory=tuple_row) as cursor:
            return self.aggregates_from(cursor.execute(self.events_statement, (list(ids),)).fetchall())

    def keep_autovacuum_away(self) -> None:
        """Turn autovacuum off for the events table (and its TOAST table); the operator vacuums it in a
        quiet window (docs/operations.md).

        Every append takes the table in EXCLUSIVE mode (the library's way to keep the notification log in
        commit order), and that conflicts with the lock VACUUM and ANALYZE hold. An autovacuum of the
        table therefore stops every append until Postgres cancels it — after ``deadlock_timeout``, 1 s —
        and never finishes on a busy store: the bench saw p99 decisions at 600-850 ms instead of ~220.
        Rows are only ever appended (its dead rows are those of rolled-back appends), so what autovacuum
        would do can wait for that window; the anti-wraparound vacuum still runs whatever the setting."""
        recorder = self._postgres()
        table = SQL("{}.{}").format(
            Identifier(recorder.datastore.schema), Identifier(recorder.events_table_name)
        )
        with recorder.datastore.transaction(commit=True) as cursor:
            cursor.execute(
                "SELECT coalesce('autovacuum_enabled=false' = ANY(reloptions), false) AS off FROM pg_class "
                "WHERE oid = %s::regclass",
                (table.as_string(None),),
            )
            found = cursor.fetchone()
            if not (found and found["off"]):
                cursor.execute(
                    SQL(
                        "ALTER TABLE {} SET (autovacuum_enabled = false, toast.autovacuum_enabled = false)"
                    ).format(table)
                )

    def first_events(self, ids: Collection[uuid.UUID]) -> list[StoredEvent]:
        """The first stored event (version 1) of each aggregate among ``ids`` that exists, not decoded: a
        claim's ClaimSubmitted says whom it concerns without folding the rest. One query on Postgres."""
        if not ids:
            return []
        if not isinstance(self.recorder, PostgresAggregateRecorder):
            return [stored for key in ids for stored in self.recorder.select_events(key, lte=1)]
        recorder = self.recorder
        with recorder.datastore.get_connection() as conn, conn.cursor(row_factory=tuple_row) as cursor:
            rows = cursor.execute(self._statement("AND originator_version = 1"), (list(ids),)).fetchall()
        return [
            StoredEvent(originator_id, version, topic, bytes(state))
            for originator_id, version, topic, state in rows
        ]

    @functools.cached_property
    def events_statement(self) -> str:
        """One query for the events of several aggregates (``ANY(%s)`` of ids), for callers that send it
        on their own connection next to other queries (the HTTP intake's single round trip)."""
        return self._statement("ORDER BY originator_id, originator_version")

    def _statement(self, rest: str) -> str:
        recorder = self._postgres()
        table = Identifier(recorder.datastore.schema), Identifier(recorder.events_table_name)
        query = SQL(
            "SELECT originator_id, originator_version, topic, state FROM {}.{} WHERE originator_id = ANY(%s) "
        )
        return (query.format(*table) + SQL(rest)).as_string(None)

    def aggregates_from(self, rows: Sequence[Sequence[Any]]) -> dict[uuid.UUID, Any]:
        """The aggregates folded from rows of ``events_statement`` (tuples, in its order)."""
        found: dict[uuid.UUID, Any] = {}
        for originator_id, version, topic, state in rows:
            event: Any = self.mapper.to_domain_event(StoredEvent(originator_id, version, topic, bytes(state)))
            found[originator_id] = event.mutate(found.get(originator_id))
        return found

    def submit(self, claim_id: uuid.UUID, filed_at: datetime, **submitted: Any) -> Claim:
        """Record a claim as submitted, without the intake's checks: for seeding a store (tests, fixtures).
        Claims are filed by ``filing.Filing``; this shares its rule (``open_claim``) and refuses likewise."""
        for _ in range(5):
            known = self.get_many([claim_id, InsuredRecord.id_for(submitted["immatriculation"])])
            last = [
                a.last_claim_id for a in known.values() if isinstance(a, InsuredRecord) and a.last_claim_id
            ]
            opened = open_claim(claim_id, filed_at, {**known, **self.get_many(last)}, submitted)
            if isinstance(opened, Claim):
                return opened
            if self.save_once(*opened):
                return opened[0]
        raise IntegrityError(f"claim {claim_id}: the insured's record kept changing")

    def advance(
        self, claim_id: uuid.UUID, step: Callable[[Claim], None], attempts: int = ADVANCE_ATTEMPTS
    ) -> Claim:
        """Load the claim, let ``step`` record what comes next (nothing when it is done), save once.

        Two writers advancing the same claim conflict on its next version (an employer's return to work and
        the projector scheduling the claim's payments, say): the loser loads the claim as the winner left it
        and lets ``step`` look again, so work the winner did is not done twice and work of its own is never
        dropped. Raises ClaimKeptChanging when every attempt lost.
        """
        for _ in range(attempts):
            claim = self.get_claim(claim_id)
            step(claim)
            if self.save_once(claim):
                return claim
        raise ClaimKeptChanging(CLAIM_CHANGED, f"claim {claim_id} kept changing: nothing was recorded")

    def save_once(self, *aggregates: Claim | InsuredRecord) -> bool:
        """Save in one transaction; False when another process changed one of them first (its change
        stands: callers reload and find the work done, or look again)."""
        try:
            self.save(*aggregates)
        except IntegrityError:
            return False
        return True

    def claim_notifications(self, after: int, limit: int) -> Sequence[Notification]:
        """The store's global order, claim events only, after notification id ``after``."""
        return self.notifications(after, limit, CLAIM_TOPICS)

    def notifications(self, after: int, limit: int, topics: Sequence[str]) -> Sequence[Notification]:
        """The store's global order after notification id ``after``, events of ``topics`` only, up to
        ``limit`` of them (the library's ``notification_log.select`` refuses more than ten a call)."""
        return self.recorder.select_notifications(
            start=after, limit=limit, topics=topics, inclusive_of_start=False
        )

    def claim_notification_pages(self, after: int, up_to: int, page: int) -> Iterator[Sequence[Notification]]:
        """Pages of at most ``page`` claim notifications in ``(after, up_to]``, in global order: what
        ``claim_notifications`` selects, read in binary on Postgres (the library's text-mode read spends
        most of its time decoding each state's bytea from hexadecimal). The query keeps the library's
        shape (no upper bound): Postgres then walks the notification index in order and stops after a
        page, where an upper bound on a freshly loaded, not yet analysed table made it sort the whole
        rest per page."""
        while after < up_to and (found := self._claim_page(after, up_to, page)):
            yield found
            after = found[-1].id

    def _claim_page(self, after: int, up_to: int, limit: int) -> list[Notification]:
        if not isinstance(self.recorder, PostgresAggregateRecorder):
            return [n for n in self.claim_notifications(after, limit) if n.id <= up_to]
        datastore = self.recorder.datastore
        with datastore.get_connection() as conn, conn.cursor(binary=True, row_factory=tuple_row) as cursor:
            rows = cursor.execute(self._page_statement, (after, list(CLAIM_TOPICS), limit), prepare=True)
            return [Notification(id=i, originator_id=o, originator_version=v, topic=t, state=bytes(s))
                    for i, o, v, t, s in rows.fetchall() if i <= up_to]  # fmt: skip

    @functools.cached_property
    def _page_statement(self) -> str:
        recorder = self._postgres()
        return (
            SQL("SELECT notification_id, originator_id, originator_version, topic, state FROM {}.{} "
                "WHERE notification_id > %s AND topic = ANY(%s) ORDER BY notification_id LIMIT %s")
            .format(Identifier(recorder.datastore.schema), Identifier(recorder.events_table_name))
            .as_string(None)
        )  # fmt: skip

    def to_event(self, stored: StoredEvent) -> DomainEventProtocol[uuid.UUID]:
        """The domain event of a stored event (upcast, deciphered, decompressed as configured)."""
        return self.mapper.to_domain_event(stored)

    def plain_transcodings(self) -> Mapping[str, Transcoding] | None:
        """The store's transcodings by name when states are plain JSON (neither enciphered nor
        compressed), for a decoder that parses them itself (``claim_messages.RecordDecoder``); None
        when only ``to_event`` can read them."""
        mapper, transcoder = self.mapper, self.mapper.transcoder
        if mapper.cipher is None and mapper.compressor is None and isinstance(transcoder, JSONTranscoder):
            return transcoder.names
        return None
