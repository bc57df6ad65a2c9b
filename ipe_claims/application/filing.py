"""Filing a claim: the one way a submission becomes a claim, over HTTP, on the portal and from Kafka.

A batch is the unit: ``Filing.file`` takes a list (a single submission is a list of one) and answers each
with its ``Filed`` or its ``Refusal``, in order. Whatever the batch's size, it reads the callers' accounts
once, the declared insured once, the claims and insured records twice (then the previous claims of those
records), and saves every new claim with its insured's record in one transaction: saving both together is
what makes "one open claim per insured" atomic rather than a check-then-act race.

Two submissions of one claim id or one insured in a batch are filed in turn (the later one reads what the
earlier one saved). When the transaction conflicts with another writer, its submissions are filed again one
at a time, each reading afresh; a retry of a stored claim gets the first answer, as first submitted.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from ipe_claims.application import intake
from ipe_claims.application.intake import Refusal, Submission
from ipe_claims.application.ports import Accounts, ClaimsStore, Clock, DeclarationsReader, Submitter
from ipe_claims.domain.claim import Claim, InsuredRecord, OpenClaimExists
from ipe_claims.domain.dates import local_date

ATTEMPTS = 5  # times one submission is filed again while other writers keep changing its insured's record


class StoreKeptChanging(Exception):
    """The insured's record changed under every attempt: the caller may retry later."""


@dataclass(frozen=True)
class FileClaim:
    """File this submission as this claim id, for the caller the ``Accounts`` port knows."""

    caller: str
    claim_id: uuid.UUID
    submission: Submission
    channel: str


@dataclass(frozen=True)
class Filed:
    """A claim as first submitted, the facts asked for, who filed, and whether this call created it."""

    claim: Claim
    facts: dict[str, Any]
    submitter: Submitter
    created: bool


def validate(
    declarations: DeclarationsReader, asks: Sequence[tuple[Submitter, Submission]], today: date
) -> list[dict[str, Any] | Refusal]:
    """Each submission's facts (with the insured as its affiliation declared them), or the first rule it
    breaks; the lookup of the insured is one read for the whole batch, for those that pass every other rule."""
    checked: list[date | Refusal] = []
    for submitter, submission in asks:
        try:
            checked.append(intake.check(submission, submitter.affiliations, today))
        except Refusal as refusal:
            checked.append(refusal)
    looked_up = [n for n, loss in enumerate(checked) if isinstance(loss, date)]
    people = declarations.declared(
        [(asks[n][1].immatriculation, asks[n][1].affiliation_number) for n in looked_up]
    )
    found = dict(zip(looked_up, people, strict=True))
    answers: list[dict[str, Any] | Refusal] = []
    for n, loss in enumerate(checked):
        if isinstance(loss, Refusal):
            answers.append(loss)
            continue
        try:
            answers.append(intake.facts_of(asks[n][1], loss, found[n]))
        except Refusal as refusal:
            answers.append(refusal)
    return answers


def facts_or_refusal(
    declarations: DeclarationsReader, submitter: Submitter, submission: Submission, today: date
) -> dict[str, Any]:
    """``validate`` of one submission (a preview): its facts, or its refusal raised."""
    (answer,) = validate(declarations, [(submitter, submission)], today)
    if isinstance(answer, Refusal):
        raise answer
    return answer


@dataclass(frozen=True)
class _Valid:
    at: int  # its place in the batch
    ask: FileClaim
    submitter: Submitter
    facts: dict[str, Any]

    @property
    def keys(self) -> tuple[uuid.UUID, str]:
        return self.ask.claim_id, self.ask.submission.immatriculation

    def submitted(self) -> dict[str, Any]:
        return {**self.facts, "submitted_by": self.submitter.username, "channel": self.ask.channel}


@dataclass
class Filing:
    """The filing service over its ports; cheap to build, so a process builds one per batch."""

    claims: ClaimsStore
    declarations: DeclarationsReader
    accounts: Accounts
    clock: Clock

    def file(self, asks: Sequence[FileClaim]) -> list[Filed | Refusal]:
        """Each submission's claim (new, or the one a retry finds) or its refusal, in the order asked."""
        now = self.clock.now()
        answers: dict[int, Filed | Refusal] = {}
        submitters = self.accounts.submitters({ask.caller for ask in asks})
        allowed: list[tuple[int, Submitter]] = []
        for n, ask in enumerate(asks):
            who = submitters[ask.caller]
            if isinstance(who, Refusal):
                answers[n] = who
            else:
                allowed.append((n, who))
        checked = validate(
            self.declarations, [(who, asks[n].submission) for n, who in allowed], local_date(now)
        )
        pending: list[_Valid] = []
        for (n, who), facts in zip(allowed, checked, strict=True):
            if isinstance(facts, Refusal):
                answers[n] = facts
            else:
                pending.append(_Valid(n, asks[n], who, facts))
        while pending:
            turn, pending = _in_turn(pending)
            for valid, answer in self._file(turn, now, ATTEMPTS):
                answers[valid.at] = answer
        return [answers[n] for n in range(len(asks))]

    def _file(
        self, batch: list[_Valid], now: datetime, attempts: int
    ) -> list[tuple[_Valid, Filed | Refusal]]:
        """File submissions of distinct claims and insured: read, open the new claims, save them at once."""
        known = self._load(batch)
        answers: list[tuple[_Valid, Filed | Refusal]] = []
        new: list[tuple[_Valid, Claim, InsuredRecord]] = []
        for valid in batch:
            try:
                opened = open_claim(valid.ask.claim_id, now, known, valid.submitted())
            except OpenClaimExists:
                answers.append((valid, intake.open_claim_exists()))
                continue
            if isinstance(opened, Claim):
                answers.append((valid, self._first_answer(valid, opened, created=False)))
            else:
                new.append((valid, *opened))
        if self.claims.save_once(*(one for _, claim, record in new for one in (claim, record))):
            return answers + [
                (valid, self._first_answer(valid, claim, created=True)) for valid, claim, _ in new
            ]
        if attempts <= 1:
            raise StoreKeptChanging(f"claims {[str(valid.ask.claim_id) for valid, _, _ in new]}")
        for valid, _, _ in new:  # another writer got in the way: one at a time, reading again
            answers += self._file([valid], now, attempts - 1)
        return answers

    def _load(self, batch: list[_Valid]) -> dict[uuid.UUID, Any]:
        """The batch's claims and insured records, then the last claims those records opened: two reads."""
        known = dict(self.claims.get_many([one for v in batch for one in (v.ask.claim_id, InsuredRecord.id_for(
            v.ask.submission.immatriculation))]))  # fmt: skip
        last = {a.last_claim_id for a in known.values() if isinstance(a, InsuredRecord) and a.last_claim_id}
        return known | dict(self.claims.get_many(last - known.keys())) if last - known.keys() else known

    def _first_answer(self, valid: _Valid, claim: Claim, created: bool) -> Filed | Refusal:
        """The claim as first submitted, or the refusal when it is not what was asked for (an idempotency
        key reused for another submission)."""
        if not intake.asks_for(claim, valid.facts):
            return intake.idempotency_key_reused()
        first = claim if claim.version == 1 else self.claims.first_version(claim.id)
        return Filed(first, valid.facts, valid.submitter, created)


def _in_turn(pending: list[_Valid]) -> tuple[list[_Valid], list[_Valid]]:
    """The submissions that can be filed together (distinct claim ids and insured), and those after them."""
    now: list[_Valid] = []
    later: list[_Valid] = []
    taken: set[object] = set()
    for valid in pending:
        if taken.isdisjoint(valid.keys):
            now.append(valid)
            taken.update(valid.keys)
        else:
            later.append(valid)
    return now, later


def open_claim(claim_id: uuid.UUID, filed_at: datetime, known: Mapping[uuid.UUID, Any],
          submitted: dict[str, Any]) -> Claim | tuple[Claim, InsuredRecord]:  # fmt: skip
    """The claim as it stands if it exists (a retry), else the new claim and the insured's record with the
    claim opened on it, not yet saved. Refuses (OpenClaimExists) when the insured has an open claim."""
    existing = known.get(claim_id)
    if existing is not None:
        if not isinstance(existing, Claim):
            raise TypeError(f"{claim_id} is a {type(existing).__name__}, not a claim")
        return existing
    immatriculation = submitted["immatriculation"]
    record = known.get(InsuredRecord.id_for(immatriculation)) or InsuredRecord.open(immatriculation)
    if record.last_claim_id is not None:
        last = known.get(record.last_claim_id)
        if not isinstance(last, Claim):
            raise LookupError(f"the insured's last claim {record.last_claim_id} is not in the store")
        if last.is_open_on(local_date(filed_at)):
            raise OpenClaimExists(last.id)
    claim = Claim.submit(claim_id, filed_at=filed_at, **submitted)
    record.open_claim(claim.id)
    return claim, record
