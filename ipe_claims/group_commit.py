"""Group commit for submissions: concurrent requests share one event-store transaction.

The event store serialises writers behind one insert lock (about 450 transactions/s here), so one
transaction per HTTP request caps intake well below a surge's needs. Each request prepares its claim in
its own thread (the reads run in parallel); one writer thread saves whatever is queued in a single
transaction. A request returns only after the transaction holding its events committed, so a 201 still
means "stored". Two requests for the same insured (or the same claim id) never share a batch; if a batch
conflicts with another process anyway, the writer saves its requests one by one.
"""

from __future__ import annotations

import queue
import threading
import uuid
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from ipe_claims.application import ClaimsApplication
from ipe_claims.domain.claim import Claim, InsuredRecord


@dataclass
class _Pending:
    claim_id: uuid.UUID
    filed_at: datetime
    submitted: dict[str, Any]
    prepared: tuple[Claim, InsuredRecord]
    done: threading.Event = field(default_factory=threading.Event)
    result: Claim | None = None
    error: BaseException | None = None

    @property
    def keys(self) -> tuple[uuid.UUID, str]:
        return self.claim_id, self.submitted["immatriculation"]


class GroupCommit:
    def __init__(self, app: ClaimsApplication, max_batch: int = 200) -> None:
        self.app = app
        self.max_batch = max_batch
        self.queue: queue.Queue[_Pending] = queue.Queue()
        self.batches = 0
        self.saved = 0
        self._held: list[_Pending] = []
        threading.Thread(target=self._write, name="group-commit", daemon=True).start()

    def submit(self, claim_id: uuid.UUID, filed_at: datetime, **submitted: Any) -> Claim:
        """Same contract as ``ClaimsApplication.submit``."""
        prepared = self.app.prepare_submission(claim_id, filed_at, **submitted)
        if isinstance(prepared, Claim):
            return prepared
        pending = _Pending(claim_id, filed_at, submitted, prepared)
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
                pending.result = pending.prepared[0]
            return
        for pending in batch:  # another process got in the way: one by one, looking again
            try:
                pending.result = self.app.submit(pending.claim_id, pending.filed_at, **pending.submitted)
            except Exception as exc:
                pending.error = exc
