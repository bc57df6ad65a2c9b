"""Paying (ipe_claims/application/paying.py) on the library's in-memory store: schedules follow decisions
and returns to work, a run pays complete dossiers only, once, and gives the same file when run again."""

from __future__ import annotations

import uuid
from datetime import date

from ipe_claims.adapters.pain001 import Debtor
from ipe_claims.adapters.payment_files import Pain001Files
from ipe_claims.application.claims import ClaimsApplication
from ipe_claims.application.clock import FixedClock
from ipe_claims.application.paying import KeepSchedules, PaymentRun
from ipe_claims.application.returning import RecordReturnToWork
from ipe_claims.domain import dossier
from ipe_claims.domain.claim import Claim
from ipe_claims.domain.payments import CANCELLED, ISSUED, SCHEDULED
from ipe_claims.domain.rib import parse_rib
from tests.unit.claim_life import AGENT, RIB, a_claim, decision_for, later

MONTHS = ["2026-11", "2026-12", "2027-01", "2027-02", "2027-03", "2027-04"]  # filed in October 2026
FILES = Pain001Files(Debtor("CNSS", parse_rib("999999000000000000000014"), "DEMOMAM0XXX"))
PIECES = (dossier.FORMULAIRE, dossier.CIN, dossier.PV_INSPECTION, dossier.ANAPEC)


class Index:
    """The read model as a list: every claim saved in the test."""

    def __init__(self) -> None:
        self.ids: list[uuid.UUID] = []

    def claims_to_pay(self, run_month: str) -> list[uuid.UUID]:
        return list(self.ids)


def valable(app: ClaimsApplication, index: Index, months: int = 36) -> Claim:
    claim = a_claim()
    claim.decide(decision_for(claim, months), decided_by="projector", at=later(1))
    app.save(claim)
    index.ids.append(claim.id)
    KeepSchedules(app, FixedClock(later(1)))([claim.id])
    return app.get_claim(claim.id)


def complete_dossier(app: ClaimsApplication, claim_id: uuid.UUID, day: int) -> None:
    claim = app.get_claim(claim_id)
    for kind in PIECES:
        claim.record_document(kind, dossier.VERIFIED, **AGENT, at=later(day))
    claim.record_document(dossier.RIB, dossier.VERIFIED, **AGENT, at=later(day), rib=RIB)
    app.save(claim)


def run(app: ClaimsApplication, index: Index, month: str, day: int) -> PaymentRun:
    return PaymentRun(app, index, FILES, FixedClock(later(day)))


def statuses(app: ClaimsApplication, claim_id: uuid.UUID) -> dict[str, str]:
    return {month: line.status for month, line in app.get_claim(claim_id).payments.items()}


def test_a_valable_claim_is_scheduled_six_months_from_the_month_after_filing_once(
    app: ClaimsApplication,
) -> None:
    index = Index()
    claim = valable(app, index)
    assert statuses(app, claim.id) == dict.fromkeys(MONTHS, SCHEDULED)
    assert KeepSchedules(app, FixedClock(later(2)))([claim.id]) == []  # followed again: nothing new


def test_a_rejected_claim_has_no_payments(app: ClaimsApplication) -> None:
    index = Index()
    claim = valable(app, index, months=10)  # too short a career: Rejeté
    assert claim.situation == "Rejeté" and claim.payments == {}


def test_a_run_pays_complete_dossiers_only_and_the_overdue_months_later(app: ClaimsApplication) -> None:
    index = Index()
    complete, waiting = valable(app, index), valable(app, index)
    complete_dossier(app, complete.id, day=10)

    november = run(app, index, "2026-11", day=30)("2026-11")
    assert november.new and [(t.claim_id, t.month) for t in november.transfers] == [(complete.id, "2026-11")]
    assert statuses(app, waiting.id)["2026-11"] == SCHEDULED

    complete_dossier(app, waiting.id, day=50)  # 24 November, before the dossier's deadline
    december = run(app, index, "2026-12", day=60)("2026-12")
    paid = sorted((t.claim_id == waiting.id, t.month) for t in december.transfers)
    assert paid == [(False, "2026-12"), (True, "2026-11"), (True, "2026-12")]
    line = app.get_claim(waiting.id).payments["2026-11"]
    assert line.status == ISSUED and line.file_id == december.file_id and line.issued_on == date(2026, 12, 4)


def test_a_month_run_twice_pays_nobody_twice_and_gives_the_same_file(app: ClaimsApplication) -> None:
    index = Index()
    claim = valable(app, index)
    complete_dossier(app, claim.id, day=10)
    first = run(app, index, "2026-11", day=30)("2026-11")
    version = app.get_claim(claim.id).version

    again = run(app, index, "2026-11", day=33)("2026-11")

    assert not again.new and again.content == first.content and again.file_id == first.file_id
    assert app.get_claim(claim.id).version == version  # no second PaymentIssued
    assert first.content is not None and first.file_id is not None
    assert f"<MsgId>{first.file_id}</MsgId>".encode() in first.content


def test_no_verified_rib_no_payment_and_no_file(app: ClaimsApplication) -> None:
    index = Index()
    claim = valable(app, index)
    result = run(app, index, "2026-11", day=30)("2026-11")
    assert result.content is None and result.transfers == ()
    assert statuses(app, claim.id)["2026-11"] == SCHEDULED


def test_a_return_to_work_after_two_payments_cancels_the_months_not_started(app: ClaimsApplication) -> None:
    index = Index()
    claim = valable(app, index)
    complete_dossier(app, claim.id, day=10)
    run(app, index, "2026-11", day=30)("2026-11")
    run(app, index, "2026-12", day=60)("2026-12")

    # Back on 10 December after a loss on 2 October: entitlement months 1-3 have started (rules.md).
    RecordReturnToWork(app, FixedClock(later(67)))(claim.id, date(2026, 12, 10), "employer")
    KeepSchedules(app, FixedClock(later(67)))([claim.id])

    assert statuses(app, claim.id) == {"2026-11": ISSUED, "2026-12": ISSUED, "2027-01": SCHEDULED,
                                       "2027-02": CANCELLED, "2027-03": CANCELLED, "2027-04": CANCELLED}  # fmt: skip
    january = run(app, index, "2027-01", day=95)("2027-01")
    assert [t.month for t in january.transfers] == ["2027-01"]
    assert run(app, index, "2027-03", day=150)("2027-03").content is None
