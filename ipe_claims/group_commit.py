"""Group commit for submissions: concurrent requests share one event-store transaction.

The event store serialises writers behind one insert lock (about 450 transactions/s here), so one
transaction per HTTP request caps intake well below a surge's needs. Each request prepares its claim in
its own thread (the reads run in parallel); one writer thread saves whatever is queued in a single
transaction. A request returns only after the transaction holding its events committed, so a 201 still
means "stored". Two requests for the same insured (or the same claim id) never share a batch; if a batch
conflicts with another process anyway, the writer saves its requests one by one.

A request may bring a ``Receipt``: rows (the access log of what its 201 shows) that the writer inserts for
the whole batch in one statement right after the events commit, before any request of the batch returns,
and only for the claims the batch created (a retry that finds its claim writes its own).
"""

from __future__ import annotations

import queue
import threading
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from eventsourcing.persistence import IntegrityError

from ipe_claims.application import ClaimsApplication
from ipe_claims.domain.claim import Claim, InsuredRecord


@dataclass
class Receipt:
    rows: list[tuple[Any, ...]]
    written: bool = False


@dataclass
class _Pending:
    claim_id: uuid.UUID
    filed_at: datetime
    submitted: dict[str, Any]
    prepared: tuple[Claim, InsuredRecord]
    receipt: Receipt | None = None
    done: threading.Event = field(default_factory=threading.Event)
    result: Claim | None = None
    created: bool = False  # this request's claim is the one stored (not a retry's)
    error: BaseException | None = None

    @property
    def keys(self) -> tuple[uuid.UUID, str]:
        return self.claim_id, self.submitted["immatriculation"]


class GroupCommit:
    def __init__(self, app: ClaimsApplication, max_batch: int = 200,
                 write_rows: Callable[[Sequence[tuple[Any, ...]]], None] | None = None) -> None:  # fmt: skip
        self.app = app
        self.max_batch = max_batch
        self.write_rows = write_rows
        self.queue: queue.Queue[_Pending] = queue.Queue()
        self.batches = 0
        self.saved = 0
        self._held: list[_Pending] = []
        threading.Thread(target=self._write, name="group-commit", daemon=True).start()

    def submit(self, claim_id: uuid.UUID, filed_at: datetime, known: Mapping[uuid.UUID, Any] | None = None,
               receipt: Receipt | None = None, **submitted: Any) -> Claim:  # fmt: skip
        """Same contract as ``ClaimsApplication.submit``; ``known`` as for ``prepare_submission``."""
        prepared = self.app.prepare_submission(claim_id, filed_at, known=known, **submitted)
        if isinstance(prepared, Claim):
            return prepared
        pending = _Pending(claim_id, filed_at, submitted, prepared, receipt)
        self.queue.put(pending)
        pending.done.wait()
        if pending.error is not None:
            raise pending.error
        assert pending.result is not None
        return pending.result

    def _next_batch(self) -> list[_Pending]:
        waiting = self._held or [self.queue.get()]
        self._held = []
        while len(waiting) < self.max_batch:
            try:
                waiting.append(self.queue.get_nowait())
            except queue.Empty:
                break
        batch: list[_Pending] = []
        taken: set[object] = set()
        for pending in waiting:
            if taken.isdisjoint(pending.keys) and len(batch) < self.max_batch:
                batch.append(pending)
                taken.update(pending.keys)
            else:
                self._held.append(pending)  # the next batch: the first one of the pair decides
        return batch

    def _write(self) -> None:
        while True:
            batch = self._next_batch()
            try:
                self._save(batch)
                self._write_receipts(batch)
            except Exception as exc:  # the database is down, say: every waiting request hears of it
                for pending in batch:
                    pending.error = pending.error or exc
            self.batches += 1
            self.saved += len(batch)
            for pending in batch:
                pending.done.set()

    def _save(self, batch: list[_Pending]) -> None:
        if self.app.save_once(*(aggregate for pending in batch for aggregate in pending.prepared)):
            for pending in batch:
                pending.result, pending.created = pending.prepared[0], True
            return
        for pending in batch:  # another process got in the way: one by one, looking again
            try:
                pending.result, pending.created = self._save_alone(pending)
            except Exception as exc:
                pending.error = exc

    def _save_alone(self, pending: _Pending) -> tuple[Claim, bool]:
        for _ in range(5):
            prepared = self.app.prepare_submission(pending.claim_id, pending.filed_at, **pending.submitted)
            if isinstance(prepared, Claim):
                return prepared, False
            if self.app.save_once(*prepared):
                return prepared[0], True
        raise IntegrityError(f"claim {pending.claim_id}: the insured's record kept changing")

    def _write_receipts(self, batch: list[_Pending]) -> None:
        receipts = [p.receipt for p in batch if p.receipt is not None and p.created and p.error is None]
        if not receipts or self.write_rows is None:
            return
        self.write_rows([row for receipt in receipts for row in receipt.rows])
        for receipt in receipts:
            receipt.written = True
