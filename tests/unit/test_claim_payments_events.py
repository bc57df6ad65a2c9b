"""A Valable claim's payments on the library's in-memory store: scheduled, issued once each to a verified
RIB, cancelled past a return to work or when the claim ends; each refusal with its code."""

from __future__ import annotations

from datetime import date

import pytest

from ipe_claims.domain.claim import Claim
from ipe_claims.domain.dossier import DossierFacts
from ipe_claims.domain.lifecycle import return_to_work
from ipe_claims.domain.payments import CANCELLED, ISSUED, SCHEDULED, InvalidMonth, InvalidPayment
from ipe_claims.domain.rules import ruleset_for
from tests.unit.claim_life import (
    AGENT,
    LOSS,
    RIB,
    a_claim,
    decision_for,
    in_memory_app,
    later,
    saved_and_loaded,
)

MONTHS = ["2026-11", "2026-12", "2027-01", "2027-02", "2027-03", "2027-04"]  # filed in October 2026


def valable() -> Claim:
    claim = a_claim()
    claim.decide(decision_for(claim), decided_by="projector", at=later(1))
    return claim


def statuses(claim: Claim) -> dict[str, str]:
    return {month: line.status for month, line in claim.payments.items()}


def refused_code(claim: Claim, action: str, *args: str, **kwargs: str) -> str:
    with pytest.raises(InvalidPayment) as refused:
        getattr(claim, action)(*args, **kwargs, at=later(60))
    return refused.value.code


def test_payments_are_scheduled_issued_and_cancelled_in_order() -> None:
    claim = valable()
    claim.schedule_payments(at=later(1))
    assert statuses(claim) == dict.fromkeys(MONTHS, SCHEDULED)
    assert {line.amount_centimes for line in claim.payments.values()} == {280000}  # 70 % of 4 000.00 MAD
    claim.record_document("rib", "verified", **AGENT, at=later(10), rib=RIB)
    claim.issue_payment("2026-11", file_id="IPE-2026-11-1", at=later(30))
    claim.issue_payment("2026-12", file_id="IPE-2026-12-1", at=later(60))
    decision = claim.decision
    assert decision is not None and decision.duration_months is not None
    back = return_to_work(
        LOSS, decision.duration_months, date(2027, 1, 10), date(2027, 1, 12), ruleset_for(LOSS)
    )
    claim.return_to_work(back, declared_by="employer", at=later(99))
    claim.cancel_payments(at=later(99))
    with in_memory_app() as app:
        loaded = saved_and_loaded(app, claim)
        names = [type(e).__name__ for e in app.repository.event_store.get(claim.id)]
    assert names[-6:] == [
        "PaymentsScheduled", "DocumentRecorded", "PaymentIssued", "PaymentIssued", "ReturnedToWork", "PaymentsCancelled",
    ]  # fmt: skip
    assert statuses(loaded) == {
        "2026-11": ISSUED, "2026-12": ISSUED, "2027-01": SCHEDULED, "2027-02": SCHEDULED,
        "2027-03": CANCELLED, "2027-04": CANCELLED,
    }  # fmt: skip  # back on 10 January: entitlement months 1-4 had started
    first = loaded.payments["2026-11"]
    assert (first.file_id, first.issued_on) == ("IPE-2026-11-1", later(30).date())
    assert loaded.decided_at == later(1)  # the return to work does not move the decision's time
    assert refused_code(loaded, "issue_payment", "2026-11", file_id="IPE-2") == "payment_already_issued"
    assert refused_code(loaded, "issue_payment", "2027-03", file_id="IPE-3") == "payment_cancelled"
    assert refused_code(loaded, "cancel_payments") == "nothing_to_cancel"


def test_a_payment_needs_a_scheduled_month_a_verified_rib_and_a_file() -> None:
    claim = valable()
    claim.schedule_payments(at=later(1))
    assert refused_code(claim, "schedule_payments") == "payments_already_scheduled"
    assert refused_code(claim, "issue_payment", "2026-11", file_id="F") == "rib_not_verified"
    claim.record_document("rib", "verified", **AGENT, at=later(10), rib=RIB)
    assert refused_code(claim, "issue_payment", "2027-05", file_id="F") == "payment_not_scheduled"
    assert refused_code(claim, "issue_payment", "2026-11", file_id=" ") == "file_id_required"
    with pytest.raises(InvalidMonth):
        claim.issue_payment("2026-13", file_id="F", at=later(60))
    claim.record_document("rib", "refused", **AGENT, at=later(11), reason="Compte clôturé")
    assert refused_code(claim, "issue_payment", "2026-11", file_id="F") == "rib_not_verified"
    assert statuses(claim) == dict.fromkeys(MONTHS, SCHEDULED)


def test_only_a_valable_claim_is_scheduled() -> None:
    undecided = a_claim()
    assert refused_code(undecided, "schedule_payments") == "claim_not_valable"
    rejected = a_claim()
    rejected.decide(decision_for(rejected, months=10), decided_by="projector", at=later(1))
    assert refused_code(rejected, "schedule_payments") == "claim_not_valable"


def test_a_return_before_scheduling_schedules_only_the_months_started() -> None:
    claim = valable()
    back = return_to_work(LOSS, 6, date(2026, 12, 20), date(2026, 12, 21), ruleset_for(LOSS))
    claim.return_to_work(back, declared_by="employer", at=later(80))
    claim.schedule_payments(at=later(80))
    assert list(claim.payments) == MONTHS[:3]  # entitlement months 1-3 had started by 20 December


def test_a_claim_that_ends_cancels_every_payment_not_issued() -> None:
    claim = valable()
    claim.schedule_payments(at=later(1))
    claim.record_document("rib", "verified", **AGENT, at=later(10), rib=RIB)
    claim.issue_payment("2026-11", file_id="F1", at=later(30))
    claim.expire_dossier(DossierFacts("licenciement_economique", False), decided_by="projector", at=later(70))
    assert refused_code(claim, "issue_payment", "2026-12", file_id="F2") == "payment_cancelled"
    claim.cancel_payments(at=later(70))
    assert statuses(claim) == {"2026-11": ISSUED} | dict.fromkeys(MONTHS[1:], CANCELLED)
