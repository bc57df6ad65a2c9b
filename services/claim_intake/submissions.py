"""Claim submissions over HTTP, served in batches: the group commit reaching back to the reads.

A request waits on an asyncio future, on the event loop: no worker thread and no pooled connection of its
own. One thread takes whatever is queued and files it with one call of the filing service
(``ipe_claims/application/filing.py``), whose reads and writes cost the same whatever the number: each
token's account read *again* (so a disabled account is refused at once), the insured as declared, the claims
and insured's records, one event-store transaction holding every new claim — then one statement for the
access-log rows of every 201, and only then does it answer the batch.

What a 201 promises is unchanged: its events are committed in the event store and its access-log row is
written before it is sent. Two submissions of one claim id or one insured never share a batch (the later
one waits for the next, so that the first one decides); when the transaction conflicts with another
process, the service files its submissions again one by one. A batch that fails for any other unexpected
reason is served again one request at a time, so that one faulty request cannot cost the others their
answer (``_serve_or_split``).

The event store serialises writers behind one insert lock (about 450 transactions/s here): one
transaction per request would cap intake well below a surge's needs, hence the batches.
"""

from __future__ import annotations

import asyncio
import contextlib
import queue
import threading
import uuid
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import psycopg
import structlog
from psycopg_pool import ConnectionPool

from ipe_claims.adapters import metrics
from ipe_claims.adapters.accounts import Principal, principals_for_tokens
from ipe_claims.adapters.declared_insured import PostgresDeclarations
from ipe_claims.application import intake
from ipe_claims.application.clock import Clock
from ipe_claims.application.filing import FileClaim, Filed, Filing
from ipe_claims.application.ports import ClaimsStore, Submitter
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
    outcome: DecimalJSONResponse | BaseException | None = None  # filled in by the batch

    @property
    def keys(self) -> tuple[uuid.UUID, str]:
        return self.claim_id, self.submission.immatriculation


def submitter(principal: Principal) -> Submitter:
    return Submitter(principal.username, principal.role, principal.affiliations)


class _TokenAccounts:
    """The filing service's ``Accounts`` over bearer tokens: every token of the batch read again in one
    query (``verified``: 401 when it no longer names an enabled account, 403 for a role that may not file;
    the token cache follows)."""

    def __init__(self, conn: psycopg.Connection[Any], tokens: Tokens, bearers: Mapping[str, Bearer]) -> None:
        self.conn = conn
        self.tokens = tokens
        self.bearers = bearers

    def submitters(self, callers: Collection[str]) -> dict[str, Submitter | intake.Refusal]:
        current = principals_for_tokens(self.conn, callers)
        found: dict[str, Submitter | intake.Refusal] = {}
        for token in callers:
            try:
                found[token] = submitter(verified(self.tokens, self.bearers[token], current.get(token)))
            except intake.Refusal as refusal:
                found[token] = refusal
        return found


class Submissions:
    def __init__(self, store: ClaimsStore, pool: ConnectionPool[Any], tokens: Tokens, clock: Clock,
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
                ask.outcome = None  # what the failed batch stored, if anything, is found again by its id
                self._serve_or_split([ask])

    def _answer(self, batch: list[_Ask]) -> None:
        by_loop: dict[asyncio.AbstractEventLoop, list[_Ask]] = {}
        for ask in batch:
            by_loop.setdefault(ask.loop, []).append(ask)
        for loop, asks in by_loop.items():
            with contextlib.suppress(RuntimeError):  # that loop is closed: nobody is waiting any more
                loop.call_soon_threadsafe(_settle, asks)

    def _serve(self, batch: list[_Ask]) -> None:
        with self.pool.connection() as conn:
            accounts = _TokenAccounts(conn, self.tokens, {ask.bearer.token: ask.bearer for ask in batch})
            service = Filing(self.store, PostgresDeclarations(conn), accounts, self.clock)
            answers = service.file(
                [FileClaim(a.bearer.token, a.claim_id, a.submission, "http") for a in batch]
            )
            access_log.insert(conn, [row for ask, filed in zip(batch, answers, strict=True)
                                     if isinstance(filed, Filed) for row in _access_rows(ask, filed)])  # fmt: skip
        for ask, answer in zip(batch, answers, strict=True):
            if isinstance(answer, intake.Refusal):
                metrics.SUBMISSIONS.labels("http", answer.code).inc()
                ask.outcome = answer
            else:
                metrics.SUBMISSIONS.labels("http", "accepted" if answer.created else "replayed").inc()
                ask.outcome = DecimalJSONResponse(intake.claim_row(answer.claim), status_code=201)


def _access_rows(ask: _Ask, filed: Filed) -> list[tuple[Any, ...]]:
    return access_log.rows(filed.submitter, "claim.submit", [filed.facts | {"claim_id": filed.claim.id}],
                           ask.request_id)  # fmt: skip


def _input_fault(exc: Exception) -> intake.Refusal | None:
    """The refusal for a request that failed alone because of its own input, None for any other fault.

    The edge refuses text that is not Unicode before it gets here; this is what remains should another
    path let some through, and for values Postgres refuses (a date out of its range, say)."""
    if isinstance(exc, UnicodeError):
        return errors.invalid_text(None)
    if isinstance(exc, psycopg.DataError | OverflowError):
        return intake.invalid_bounds()
    return None


def _settle(asks: Sequence[_Ask]) -> None:
    for ask in asks:
        if ask.future.done():  # the client went away
            continue
        if isinstance(ask.outcome, BaseException):
            ask.future.set_exception(ask.outcome)
        else:
            ask.future.set_result(ask.outcome)  # type: ignore[arg-type]
