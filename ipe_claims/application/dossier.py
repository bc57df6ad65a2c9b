"""The worker's dossier: an agent records its pieces; a worker still owing some is reminded before the deadline,
and a dossier still incomplete on its deadline ends the claim.

Which pieces a claim needs depends on facts the claim does not record: whether the worker is foreign and
whether the labour inspector found no conciliation. The declarations do not hold a nationality, so both are
read from what the agent records (``dossier_facts``, docs/rules.md "After the decision"): a worker is foreign
when the identity piece last recorded is a residence card or passport, and the judgment is required once an
agent has recorded it (the inspector's PV said there was no conciliation). Every fact then comes from the
claim's own stream, so a replay asks for the same pieces.
"""

from __future__ import annotations

import uuid
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import date

from eventsourcing.persistence import IntegrityError

from ipe_claims.application.claims import ClaimKeptChanging
from ipe_claims.application.clock import Clock
from ipe_claims.application.ports import ClaimSteps, ClaimsToDecide, ScanStore
from ipe_claims.domain import dossier
from ipe_claims.domain.claim import Claim
from ipe_claims.domain.dates import local_date
from ipe_claims.domain.dossier import DocumentRecord, DossierFacts
from ipe_claims.domain.dossier_reminder import in_window
from ipe_claims.domain.errors import CodedError
from ipe_claims.domain.rules import VALABLE
from ipe_claims.domain.scans import sniff

RECORD_LOST = "record_lost"


class RecordNotSaved(CodedError):
    """Other writers kept changing the claim: the piece was not recorded (the agent may try again)."""


def dossier_facts(motif_code: str, records: Sequence[DocumentRecord]) -> DossierFacts:
    """The facts that say which pieces are required, from the pieces recorded so far (in order)."""
    identity = [record.kind for record in records if record.kind in (dossier.CIN, dossier.TITRE_SEJOUR)]
    return DossierFacts(
        motif_code,
        foreign_worker=bool(identity) and identity[-1] == dossier.TITRE_SEJOUR,
        conciliation_failed=any(record.kind == dossier.JUGEMENT for record in records),
    )


def dossier_of(claim: Claim) -> dossier.Dossier:
    """Where each piece the claim needs stands now."""
    return claim.dossier_for(dossier_facts(claim.motif_code, claim.document_records))


def has_expired(claim: Claim, today: date) -> bool:
    """A Valable claim whose dossier was incomplete on its deadline, seen after it."""
    if claim.decision is None or claim.decision.situation != VALABLE:
        return False
    deadline = claim.dossier_deadline
    facts = dossier_facts(claim.motif_code, claim.document_records)
    at_deadline = dossier.dossier_on(facts, claim.dossier_rules, claim.document_records, deadline)
    return dossier.dossier_expired(at_deadline, deadline, today)


def reminder_due(claim: Claim, today: date) -> bool:
    """A Valable claim, not reminded yet, whose worker still owes pieces within the window before the
    deadline (dossier_reminder.py: the aggregate checks the same again)."""
    if claim.decision is None or claim.decision.situation != VALABLE or claim.dossier_reminded_on is not None:
        return False
    return bool(dossier_of(claim).owed) and in_window(claim.dossier_rules, claim.dossier_deadline, today)


@dataclass(frozen=True)
class RecordDocument:
    """An agent records one piece: received, verified or refused (with a reason), the RIB's 24 digits for the
    RIB, and maybe a scan, typed from its bytes and stored by content before the event names it (a refused
    record leaves an unreferenced scan, never an event naming a scan that is not stored)."""

    claims: ClaimSteps
    scans: ScanStore
    clock: Clock

    def __call__(
        self,
        claim_id: uuid.UUID,
        kind: str,
        status: str,
        *,
        agent: str,
        agency: str,
        reason: str | None = None,
        rib: str | None = None,
        scan: bytes | None = None,
    ) -> Claim:
        """Raises InvalidDocument, InvalidRib, RefusedScan, AgentRequired or RecordNotSaved; the store's
        AggregateNotFoundError for an unknown claim."""
        sha256 = self.scans.put(scan, sniff(scan)) if scan is not None else None
        at = self.clock.now()

        def step(claim: Claim) -> None:
            claim.record_document(
                kind, status, agent=agent, agency=agency, at=at, reason=reason, rib=rib, sha256=sha256
            )

        try:  # a lost race loads the claim again and records the piece on it (ClaimsApplication.advance)
            return self.claims.advance(claim_id, step)
        except ClaimKeptChanging as exc:
            raise RecordNotSaved(
                RECORD_LOST, f"claim {claim_id} kept changing: the piece was not recorded"
            ) from exc


@dataclass(frozen=True)
class ExpireDossiers:
    """End the claims among those given whose dossier expired (Rejeté "dossier incomplet"), one save per
    claim: a claim another writer changed meanwhile is left for the next sweep."""

    claims: ClaimsToDecide
    clock: Clock
    decided_by: str

    def __call__(self, claim_ids: Collection[uuid.UUID]) -> list[Claim]:
        at = self.clock.now()
        today = local_date(at)
        ended = []
        for claim in self.claims.get_many(list(claim_ids)).values():
            if not isinstance(claim, Claim) or not has_expired(claim, today):
                continue
            claim.expire_dossier(
                dossier_facts(claim.motif_code, claim.document_records), decided_by=self.decided_by, at=at
            )
            try:
                self.claims.save(claim)
            except IntegrityError:
                continue
            ended.append(claim)
        return ended


@dataclass(frozen=True)
class RemindDossiers:
    """Record the reminder due on the clock's today for the claims among those given (``DossierReminderDue``),
    one save per claim: a claim another writer changed meanwhile, a second projector's reminder among them,
    is left for the next sweep, which finds it reminded."""

    claims: ClaimsToDecide
    clock: Clock

    def __call__(self, claim_ids: Collection[uuid.UUID]) -> list[Claim]:
        at = self.clock.now()
        today = local_date(at)
        reminded = []
        for claim in self.claims.get_many(list(claim_ids)).values():
            if not isinstance(claim, Claim) or not reminder_due(claim, today):
                continue
            claim.remind_dossier(dossier_facts(claim.motif_code, claim.document_records), at=at)
            try:
                self.claims.save(claim)
            except IntegrityError:
                continue
            reminded.append(claim)
        return reminded
