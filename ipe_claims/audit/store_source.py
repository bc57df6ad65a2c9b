"""Claim events read back from the store for a replay, page by page in global order.

Each notification is decoded by ``RecordDecoder`` (ipe_claims/adapters/claim_messages.py, shared with
the relay): orjson and the store's own transcodings where the state allows, the mapper otherwise.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Iterator, Sequence

from eventsourcing.persistence import Notification
from psycopg import sql
from psycopg.rows import tuple_row

from ipe_claims.adapters.claim_messages import RecordDecoder as RecordDecoder
from ipe_claims.application.claims import CLAIM_TOPICS, ClaimsApplication

PAGE = 1000


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
