"""Claim events read back from the store for a replay, page by page in global order.

The pages are ``ClaimsApplication.claim_notification_pages`` (read in binary on Postgres), each read
by a thread while the caller decodes the one before with ``claim_messages.RecordDecoder``.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Iterator, Sequence

from eventsourcing.persistence import Notification

from ipe_claims.application.claims import ClaimsApplication

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
            for page in app.claim_notification_pages(after, up_to, PAGE):
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
