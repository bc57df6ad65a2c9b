"""Claim submissions over HTTP, served in batches: the group commit reaching back to the reads.

A request waits on an asyncio future, on the event loop: no worker thread and no pooled connection of its
own. One thread takes whatever is queued and serves it in three round trips, whatever the number — every
read of the batch (the insured as declared, the claims and insured's records, each token's account
*again*, so a disabled account is refused at once), one event-store transaction holding every new claim,
and one statement for the access-log rows of every 201 — and only then answers the batch.

What a 201 promises is unchanged: its events are committed in the event store and its access-log row is
written before it is sent. Two submissions of one claim id or one insured never share a batch (the later
one is read after the earlier one is saved); when the transaction conflicts with another process, its
submissions are saved one by one, each looking again (``ClaimsApplication.file``). A batch that fails for
any other unexpected reason is served again one request at a time, so that one faulty request cannot cost
the others their answer (``_serve_or_split``).

The event store serialises writers behind one insert lock (about 450 transactions/s here): one
transaction per request would cap intake well below a surge's needs, hence the batches.
"""

from __future__ import annotations

import asyncio
import contextlib
import queue
import threading
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import psycopg
import structlog
from psycopg_pool import ConnectionPool

from ipe_claims.adapters import metrics
from ipe_claims.adapters.accounts import Principal, principal_for_token
from ipe_claims.application import intake
from ipe_claims.application.claims import ClaimsApplication
from ipe_claims.application.clock import Clock
from ipe_claims.domain.claim import Claim, InsuredRecord, OpenClaimExists
from ipe_claims.domain.dates import local_date
from services.claim_intake import access_log, errors
from services.claim_intake.deps import Bearer, DecimalJSONResponse, Tokens, verified

log = structlog.get_logger()


@dataclass
class _Ask:
    bearer: Bearer
    submission: intake.Submission
    claim_id: uuid.UUID
    request_id: str | None
    loop: asyncio.AbstractEventLoop
    future: asyncio.Future[DecimalJSONResponse]
    # filled in by the batch
    caller: Principal | None = None
    facts: dict[str, Any] = field(default_factory=dict)
    claim: Claim | None = None
    record: InsuredRecord | None = None  # a new claim's insured record, opened on it
    created: bool = False
    outcome: DecimalJSONResponse | BaseException | None = None

    @property
    def keys(self) -> tuple[uuid.UUID, str]:
        return self.claim_id, self.submission.immatriculation

    def start_again(self) -> None:
        """Forget what a failed batch filled in (what it stored, if anything, is found again by its id)."""
        self.caller, self.facts, self.claim, self.record = None, {}, None, None
        self.created, self.outcome = False, None


class Submissions:
    def __init__(self, store: ClaimsApplication, pool: ConnectionPool[Any], tokens: Tokens, clock: Clock,
                 max_batch: int = 200) -> None:  # fmt: skip
        self.store = store
        self.clock = clock
        self.pool = pool
        self.tokens = tokens
        self.max_batch = max_batch
        self.batches = 0
        self.served = 0
        self.split = 0  # batches served again one request at a time
        self._queue: queue.Queue[_Ask | None] = queue.Queue()
        self._held: list[_Ask] = []
        self._thread = threading.Thread(target=self._run, name="submissions", daemon=True)
        self._thread.start()

    async def file(self, bearer: Bearer, submission: intake.Submission, claim_id: uuid.UUID,
                   request_id: str | None) -> DecimalJSONResponse:  # fmt: skip
        """The 201 of this submission once its batch is stored, or its refusal (raised)."""
        loop = asyncio.get_running_loop()
        ask = _Ask(bearer, submission, claim_id, request_id, loop, loop.create_future())
        self._queue.put(ask)
        return await ask.future

    def close(self) -> None:
        self._queue.put(None)
        self._thread.join(timeout=30)

    def _next_batch(self) -> list[_Ask] | None:
        waiting: list[_Ask] = self._held
        self._held = []
        if not waiting:
            first = self._queue.get()
            if first is None:
                return None
            waiting = [first]
        closing = False
        while len(waiting) < self.max_batch:
            try:
                more = self._queue.get_nowait()
            except queue.Empty:
                break
            if more is None:
                closing = True
                break
            waiting.append(more)
        if closing:
            self._queue.put(None)  # after this batch (and any held ones)
        batch: list[_Ask] = []
        taken: set[object] = set()
        for ask in waiting:
            if taken.isdisjoint(ask.keys) and len(batch) < self.max_batch:
                batch.append(ask)
                taken.update(ask.keys)
            else:
                self._held.append(ask)  # the next batch: the first one of the pair decides
        return batch

    def _run(self) -> None:
        while (batch := self._next_batch()) is not None:
            self._serve_or_split(batch)
            self.batches += 1
            self.served += len(batch)
            self._answer(batch)

    def _serve_or_split(self, batch: list[_Ask]) -> None:
        """Serve the batch; when it fails for an unexpected reason, serve it again one request at a time, so
        that only the request at fault hears of it. When the database is down, every request hears of it
        at once: one at a time would only make each wait for the pool again."""
        try:
            self._serve(batch)
        except errors.UNAVAILABLE as exc:
            for ask in batch:
                ask.outcome = exc
        except Exception as exc:
            if len(batch) == 1:
                batch[0].outcome = _input_fault(exc) or exc
                return
            log.warning("submissions.batch_split", size=len(batch), error=type(exc).__name__)
            self.split += 1
            for ask in batch:
                ask.start_again()
                self._serve_or_split([ask])

    def _answer(self, batch: list[_Ask]) -> None:
        by_loop: dict[asyncio.AbstractEventLoop, list[_Ask]] = {}
        for ask in batch:
            by_loop.setdefault(ask.loop, []).append(ask)
        for loop, asks in by_loop.items():
            with contextlib.suppress(RuntimeError):  # that loop is closed: nobody is waiting any more
                loop.call_soon_threadsafe(_settle, asks)

    def _serve(self, batch: list[_Ask]) -> None:
        now = self.clock.now()
        today = local_date(now)
        with self.pool.connection() as conn:
            with conn.pipeline():
                lookups = intake.Lookups(conn, self.store, [(ask.submission, ask.claim_id) for ask in batch])
                current = {
                    token: principal_for_token(conn, token) for token in {a.bearer.token for a in batch}
                }
            lookups.collect()
            new: list[_Ask] = []
            for n, ask in enumerate(batch):
                try:
                    ask.caller = verified(self.tokens, ask.bearer, current[ask.bearer.token])
                    ask.facts = lookups.facts(n, ask.caller.affiliations, today)
                    prepared = self.store.prepare_submission(ask.claim_id, now, known=lookups.known(n),
                                                             **self._submitted(ask))  # fmt: skip
                except OpenClaimExists:
                    ask.outcome = intake.open_claim_exists()
                    continue
                except intake.Refusal as refusal:
                    ask.outcome = refusal
                    continue
                if isinstance(prepared, Claim):
                    ask.claim = prepared  # a retry: the claim its first try made
                else:
                    (ask.claim, ask.record), ask.created = prepared, True
                    new.append(ask)
            self._save(new, now)
            served = [ask for ask in batch if ask.outcome is None]
            for ask in served:
                assert ask.claim is not None and ask.caller is not None
                try:
                    ask.claim = intake.first_answer(self.store, ask.claim, ask.facts)
                except intake.Refusal as refusal:
                    ask.outcome = refusal
            answered = [ask for ask in served if ask.outcome is None]
            access_log.insert(conn, [row for ask in answered for row in self._access_rows(ask)])
        for ask in batch:
            if isinstance(ask.outcome, intake.Refusal):
                metrics.SUBMISSIONS.labels("http", ask.outcome.code).inc()
            elif ask.outcome is None:
                assert ask.claim is not None
                metrics.SUBMISSIONS.labels("http", "accepted" if ask.created else "replayed").inc()
                ask.outcome = DecimalJSONResponse(intake.claim_row(ask.claim), status_code=201)

    @staticmethod
    def _submitted(ask: _Ask) -> dict[str, Any]:
        assert ask.caller is not None
        return {**ask.facts, "submitted_by": ask.caller.username, "channel": "http"}

    @staticmethod
    def _access_rows(ask: _Ask) -> list[tuple[Any, ...]]:
        assert ask.caller is not None and ask.claim is not None
        shown = [ask.facts | {"claim_id": ask.claim.id}]
        return access_log.rows(ask.caller, "claim.submit", shown, ask.request_id)

    def _save(self, new: list[_Ask], now: datetime) -> None:
        """Every new claim and its insured's record in one transaction; one by one when it conflicts."""
        if not new:
            return
        aggregates: list[Claim | InsuredRecord] = []
        for ask in new:
            assert ask.claim is not None and ask.record is not None
            aggregates += [ask.claim, ask.record]
        if self.store.save_once(*aggregates):
            return
        for ask in new:  # another process got in the way: one by one, looking again
            try:
                ask.claim, ask.created = self.store.file(ask.claim_id, now, **self._submitted(ask))
            except OpenClaimExists:
                ask.outcome = intake.open_claim_exists()
            except Exception as exc:  # this one alone fails (503 or 500); the others stand
                ask.outcome = exc


def _input_fault(exc: Exception) -> intake.Refusal | None:
    """The refusal for a request that failed alone because of its own input, None for any other fault.

    The edge refuses text that is not Unicode before it gets here; this is what remains should another
    path let some through, and for values Postgres refuses (a date out of its range, say)."""
    if isinstance(exc, UnicodeError):
        return errors.invalid_text(None)
    if isinstance(exc, psycopg.DataError | OverflowError):
        return intake.Refusal(422, "invalid_value", "Valeur hors des limites acceptées.",
                              "قيمة خارج الحدود المقبولة.")  # fmt: skip
    return None


def _settle(asks: Sequence[_Ask]) -> None:
    for ask in asks:
        if ask.future.done():  # the client went away
            continue
        if isinstance(ask.outcome, BaseException):
            ask.future.set_exception(ask.outcome)
        else:
            ask.future.set_result(ask.outcome)  # type: ignore[arg-type]
