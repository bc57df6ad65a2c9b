"""Pay a Valable claim: keep its schedule in line with the claim, and issue each month's payment in a run.

- ``KeepSchedules`` follows the claim's decisions: a Valable decision schedules its months
  (``Claim.schedule_payments``), a return to work or a claim no longer Valable cancels the months no longer
  due (``Claim.cancel_payments``: a started entitlement month stays due in full, docs/rules.md). It is a
  step after the decision, run by the projector on the ``ClaimDecided`` and ``ClaimReturnedToWork`` it
  reads, so every way to a decision (the rules, an agent's review, force majeure, an expired dossier) is
  followed the same way, and doing it again changes nothing.
- ``PaymentRun`` issues a month's payments: those due that month, or overdue while the dossier was
  incomplete, of claims whose dossier is complete and RIB verified (``payments.due_for_run``), all in one
  bank file whose id every ``PaymentIssued`` records, saved in one transaction. A run of a month already
  run, with nothing new due, gives that run's file again (the same bytes: the file depends only on the
  month and its payments), so nobody is paid twice and a lost file can be written again.
"""

from __future__ import annotations

import uuid
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any, Protocol

from ipe_claims.application.clock import Clock
from ipe_claims.application.dossier import dossier_facts as facts_from_pieces
from ipe_claims.domain import dossier, payments
from ipe_claims.domain.claim import Claim
from ipe_claims.domain.dossier import DossierFacts
from ipe_claims.domain.rib import Rib
from ipe_claims.domain.rules import VALABLE

# ---------------------------------------------------------------------------------------------------------
# ports
# ---------------------------------------------------------------------------------------------------------


class PayingStore(Protocol):
    """The claims' event store (``ClaimsApplication``, on Postgres or in memory)."""

    def get_many(self, ids: Collection[uuid.UUID]) -> Mapping[uuid.UUID, Any]: ...

    def save(self, *aggregates: Claim) -> object:
        """Their new events in one transaction; the store's IntegrityError when another writer was first."""
        ...


class PaymentIndex(Protocol):
    """Which claims a run must look at (the ``payments`` read model)."""

    def claims_to_pay(self, run_month: str) -> list[uuid.UUID]:
        """Claims with a payment scheduled in or before ``run_month`` (not yet seen issued or cancelled),
        or issued in a file of that month's run."""
        ...


@dataclass(frozen=True)
class Transfer:
    """One payment in a bank file: the worker named as on the claim, paid to the RIB verified."""

    claim_id: uuid.UUID
    month: str
    amount_centimes: int
    creditor_name: str
    creditor_rib: Rib


class BankFiles(Protocol):
    """The run's credit-transfer file (``adapters.payment_files``: ISO 20022 pain.001)."""

    def file_id(self, run_month: str, transfers: Sequence[Transfer]) -> str:
        """The file's id (its message id), derived from the month and the transfers only."""
        ...

    def of_run(self, file_id: str, run_month: str) -> bool:
        """Whether ``file_id`` names a file of ``run_month``'s run."""
        ...

    def write(self, run_month: str, transfers: Sequence[Transfer]) -> bytes:
        """The file's bytes: the same for the same month and transfers, whenever written."""
        ...


# ---------------------------------------------------------------------------------------------------------
# the schedule
# ---------------------------------------------------------------------------------------------------------


def keep_schedule(claim: Claim, at: datetime) -> None:
    """Schedule a Valable claim's payments once, and cancel the scheduled months it no longer owes."""
    lines = claim.payments
    if claim.situation == VALABLE and not lines:
        planned = payments.schedule(claim.decision, claim.filed_on, claim.returned) if claim.decision else ()
        if any(p.status != payments.CANCELLED for p in planned):
            claim.schedule_payments(at=at)
        return
    scheduled = {month for month, line in lines.items() if line.status == payments.SCHEDULED}
    if not scheduled:
        return
    issued = [month for month, line in lines.items() if line.status == payments.ISSUED]
    kept: set[str] = set()
    if claim.situation == VALABLE and claim.decision is not None:
        plan = payments.schedule(claim.decision, claim.filed_on, claim.returned, issued=issued)
        kept = {p.month for p in plan if p.status != payments.CANCELLED}
    if scheduled - kept:
        claim.cancel_payments(at=at)


@dataclass(frozen=True)
class KeepSchedules:
    store: PayingStore
    clock: Clock

    def __call__(self, claim_ids: Collection[uuid.UUID]) -> list[Claim]:
        """Bring these claims' schedules in line with their decisions, with one load and one save; return
        the claims it changed. A claim not in the store is skipped (the event says it exists: it will)."""
        found = self.store.get_many(list(dict.fromkeys(claim_ids)))
        now, changed = self.clock.now(), []
        for claim in found.values():
            if isinstance(claim, Claim):
                version = claim.version
                keep_schedule(claim, now)
                if claim.version != version:
                    changed.append(claim)
        if changed:
            self.store.save(*changed)
        return changed


# ---------------------------------------------------------------------------------------------------------
# the run
# ---------------------------------------------------------------------------------------------------------


def dossier_facts(claim: Claim) -> DossierFacts:
    """Which pieces the claim needs, by the one reading of its recorded pieces (application/dossier.py)."""
    return facts_from_pieces(claim.motif_code, claim.document_records)


def completed_on(claim: Claim) -> date | None:
    """The day the dossier was complete, as it stood on its deadline (docs/rules.md, *Payments*: a dossier
    completed too late ends the claim, it does not start its payments)."""
    return dossier.dossier_on(
        dossier_facts(claim), claim.dossier_rules, claim.document_records, claim.dossier_deadline
    ).completed_on


def rib_on_issue(claim: Claim, month: str) -> Rib | None:
    """The account the month was paid to: the RIB piece's latest record on the day it was issued (or now,
    for a payment not issued yet)."""
    line = claim.payments[month]
    records = [d.record for d in claim.documents if d.record.kind == dossier.RIB]
    if line.issued_on is not None:
        records = [r for r in records if r.recorded_on <= line.issued_on]
    latest = records[-1] if records else None
    return latest.rib if latest is not None and latest.status == dossier.VERIFIED else None


def payable(claim: Claim, run_month: str) -> tuple[payments.Payment, ...]:
    """What the run of ``run_month`` issues for this claim: due, not issued, to a verified RIB."""
    if claim.decision is None or claim.situation != VALABLE or claim.rib is None:
        return ()
    scheduled = {m for m, line in claim.payments.items() if line.status == payments.SCHEDULED}
    issued = [m for m, line in claim.payments.items() if line.status == payments.ISSUED]
    due = payments.due_for_run(
        claim.decision, claim.filed_on, run_month, claim.returned, completed_on(claim), issued
    )
    return tuple(payment for payment in due if payment.month in scheduled)


def transfer(claim: Claim, month: str, amount_centimes: int, rib: Rib) -> Transfer:
    return Transfer(claim.id, month, amount_centimes, f"{claim.prenoms} {claim.nom}".strip(), rib)


@dataclass(frozen=True)
class RunResult:
    """A run's file: ``new`` when this run issued its payments, False when it is an earlier run's file
    written again (nothing new was due); ``transfers`` empty and ``content`` None when nothing was paid."""

    run_month: str
    file_id: str | None
    transfers: tuple[Transfer, ...]
    content: bytes | None
    new: bool

    @property
    def total_centimes(self) -> int:
        return sum(t.amount_centimes for t in self.transfers)


@dataclass(frozen=True)
class PaymentRun:
    store: PayingStore
    index: PaymentIndex
    files: BankFiles
    clock: Clock

    def __call__(self, run_month: str) -> RunResult:
        """Issue the month's due payments in one file, or give the month's last file again when nothing new
        is due. Raises InvalidMonth, or the store's IntegrityError when a claim changed meanwhile (nothing
        is saved: run again)."""
        payments.parse_month(run_month)
        found = self.store.get_many(self.index.claims_to_pay(run_month))
        claims = sorted((c for c in found.values() if isinstance(c, Claim)), key=lambda c: c.id)
        due = [(claim, p) for claim in claims for p in payable(claim, run_month)]
        if not due:
            return self._again(claims, run_month)
        transfers = tuple(transfer(c, p.month, p.amount_centimes, c.rib) for c, p in due if c.rib is not None)
        file_id, at = self.files.file_id(run_month, transfers), self.clock.now()
        for claim, payment in due:
            claim.issue_payment(payment.month, file_id=file_id, at=at)
        self.store.save(*{claim.id: claim for claim, _ in due}.values())
        return RunResult(run_month, file_id, transfers, self.files.write(run_month, transfers), new=True)

    def _again(self, claims: Sequence[Claim], run_month: str) -> RunResult:
        """The month's last file, from the payments it recorded: the latest issued (to the instant), the
        greatest id on a tie."""
        files: dict[str, list[Transfer]] = {}
        issued_at: dict[str, datetime | None] = {}
        for claim in claims:
            for month, line in claim.payments.items():
                if line.status != payments.ISSUED or line.file_id is None:
                    continue
                if not self.files.of_run(line.file_id, run_month):
                    continue
                rib = rib_on_issue(claim, month)
                if rib is None:
                    continue
                files.setdefault(line.file_id, []).append(transfer(claim, month, line.amount_centimes, rib))
                issued_at[line.file_id] = line.issued_at
        if not files:
            return RunResult(run_month, None, (), None, new=False)
        earliest = datetime.min.replace(tzinfo=UTC)
        last = max(files, key=lambda file_id: (issued_at[file_id] or earliest, file_id))
        transfers = tuple(files[last])
        return RunResult(run_month, last, transfers, self.files.write(run_month, transfers), new=False)
