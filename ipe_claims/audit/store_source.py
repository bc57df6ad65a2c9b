"""Claim events read back from the store for a replay, decoded as fast as the records allow.

The event store's mapper decodes a stored state with the standard ``json`` module and a Python hook
called for every JSON object; a decided claim carries every rule's outcome (about 60 objects), so a
replay spent most of its time there. ``orjson`` parses the same bytes several times faster; the
transcoded values (``{"_type_": …, "_data_": …}``: dates, instants) of a claim event are top-level
attributes, which are decoded here with the store's own transcodings. Whenever the state holds a
transcoded value anywhere else (counted in the raw bytes), is enciphered or compressed, or its class
would be upcast, the event goes through the mapper as before: the result is the same domain event.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Hashable, Iterator, Sequence
from typing import Any, cast

import orjson
from eventsourcing.persistence import JSONTranscoder, Mapper, Notification, find_id_convertor
from eventsourcing.utils import resolve_topic
from psycopg import sql
from psycopg.rows import tuple_row

from ipe_claims.adapters.claim_messages import _LIFECYCLE, _SUBMITTED_FIELDS, to_record
from ipe_claims.application import CLAIM_TOPICS, ClaimsApplication
from ipe_claims.domain.claim import Claim
from ipe_claims.domain.dates import local_date

_TYPE_KEY = b'"_type_"'
PAGE = 1000
Record = tuple[str, dict[str, Any]]


def claim_notifications(app: ClaimsApplication, after: int, up_to: int) -> Iterator[Sequence[Notification]]:
    """Pages of the store's claim notifications in ``(after, up_to]``, in global order, the next one
    read by a thread while the caller works on this one (at most two pages are held).
    """
    pages: queue.Queue[Sequence[Notification] | BaseException | None] = queue.Queue(maxsize=1)
    stop = threading.Event()

    def put(item: Sequence[Notification] | BaseException | None) -> bool:
        while not stop.is_set():
            try:
                pages.put(item, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    def read() -> None:
        try:
            for page in _pages(app, after, up_to):
                if not put(page):
                    return
            put(None)
        except BaseException as exc:  # handed to the caller, who raises it
            put(exc)

    reader = threading.Thread(target=read, name="replay-reader", daemon=True)
    reader.start()
    try:
        while (item := pages.get()) is not None:
            if isinstance(item, BaseException):
                raise item
            yield item
    finally:
        stop.set()
        reader.join()


def _pages(app: ClaimsApplication, after: int, up_to: int) -> Iterator[Sequence[Notification]]:
    """Pages of the store's claim notifications in ``(after, up_to]``, in global order.

    What ``app.claim_notifications`` selects, read in binary: the library's text-mode read spends most
    of its time decoding each state's bytea from hexadecimal. The query keeps the library's shape (no
    upper bound): Postgres then walks the notification index in order and stops after a page, where
    an upper bound on a freshly loaded, not yet analysed table made it sort the whole rest per page.
    """
    datastore = getattr(app.recorder, "datastore", None)
    table = getattr(app.recorder, "events_table_name", None)
    if datastore is None or table is None:  # not the Postgres recorder: its own reads, page by page
        while after < up_to and (page := [n for n in app.claim_notifications(after, PAGE) if n.id <= up_to]):
            yield page
            after = page[-1].id
        return
    query = sql.SQL(
        "SELECT notification_id, originator_id, originator_version, topic, state FROM {}.{} "
        "WHERE notification_id > %s AND topic = ANY(%s) ORDER BY notification_id LIMIT %s"
    ).format(sql.Identifier(datastore.schema), sql.Identifier(table))
    topics = list(CLAIM_TOPICS)
    while after < up_to:
        with datastore.get_connection() as conn, conn.cursor(binary=True, row_factory=tuple_row) as cursor:
            rows = cursor.execute(query, (after, topics, PAGE), prepare=True).fetchall()
        page = [Notification(id=i, originator_id=o, originator_version=v, topic=t, state=bytes(s))
                for i, o, v, t, s in rows if i <= up_to]  # fmt: skip
        if not page:
            return
        yield page
        after = page[-1].id


class RecordDecoder:
    """The relay's record of a claim notification (``to_record(mapper.to_domain_event(n))``), less its
    ``event_id``, which no projection reads and which costs a SHA-1 per event (``uuid5``).

    Plain JSON states of event classes that are not upcast are parsed with orjson and turned into the
    record directly; anything else goes through the mapper and ``to_record``.
    """

    def __init__(self, mapper: Mapper[Any]) -> None:
        self.mapper = mapper
        transcoder = mapper.transcoder
        plain = mapper.cipher is None and mapper.compressor is None and isinstance(transcoder, JSONTranscoder)
        self.transcodings = transcoder.names if plain and isinstance(transcoder, JSONTranscoder) else None
        self._classes: dict[str, type[Any] | None] = {}

    def _class(self, topic: str) -> type[Any] | None:
        """The event class of a topic; None when the mapper must decode it (upcast, not a claim event)."""
        if topic not in self._classes:
            cls = resolve_topic(topic)
            known = cls is Claim.Submitted or cls is Claim.Decided or cls in _LIFECYCLE
            self._classes[topic] = cls if known and getattr(cls, "class_version", 1) == 1 else None
        return self._classes[topic]

    def record(self, notification: Notification) -> Record:
        record = self._fast(notification)
        if record is None:
            name, full = to_record(self.mapper.to_domain_event(notification))
            full.pop("event_id", None)
            record = name, full
        return record

    def _state(self, notification: Notification) -> dict[str, Any] | None:
        """The event's attributes as the mapper's JSON transcoder would decode them, or None."""
        transcodings = self.transcodings
        if transcodings is None:
            return None
        state = notification.state
        try:
            event_state = orjson.loads(state)
            if type(event_state) is not dict or "class_version" in event_state:
                return None
            decoded = 0
            for name, value in event_state.items():
                if type(value) is dict and len(value) == 2 and "_type_" in value and "_data_" in value:
                    event_state[name] = transcodings[value["_type_"]].decode(value["_data_"])
                    decoded += 1
        except Exception:  # whatever it is, the mapper raises it with the event's identity
            return None
        if state.count(_TYPE_KEY) != decoded:
            return None  # a transcoded value below the top level (or the text "_type_"): the mapper's work
        return event_state

    def _fast(self, notification: Notification) -> Record | None:
        """``to_record`` (ipe_claims/adapters/claim_messages.py) on the decoded attributes."""
        cls = self._class(notification.topic)
        if cls is None or (state := self._state(notification)) is None:
            return None
        convertor = find_id_convertor(cast(Hashable, cls), cast(Hashable, type(notification.originator_id)))
        claim_id = convertor(notification.originator_id)
        common = {"claim_id": str(claim_id), "version": notification.originator_version,
                  "occurred_at": state["timestamp"]}  # fmt: skip
        if cls is Claim.Submitted:
            submitted = {name: state[name] for name in _SUBMITTED_FIELDS}
            return "ClaimSubmitted", common | submitted | {"filed_on": local_date(state["filed_at"])}
        if cls is Claim.Decided:
            return "ClaimDecided", common | state["decision"] | {"decided_by": state["decided_by"]}
        return f"Claim{cls.__name__}", common | {name: state[name] for name in _LIFECYCLE[cls]}
