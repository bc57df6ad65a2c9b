"""The dossier: the pieces a claim needs, their status, completeness, the deadline and the rejection after it."""

from datetime import date, timedelta
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ipe_claims.domain.contributions import MonthlyDeclaration, months_before
from ipe_claims.domain.dossier import (
    ANAPEC,
    CIN,
    CONTRAT,
    DOSSIER_RULES,
    FORMULAIRE,
    JUGEMENT,
    MISSING,
    PV_INSPECTION,
    RECEIVED,
    REFUSED,
    RIB,
    TITRE_SEJOUR,
    VERIFIED,
    DocumentRecord,
    DossierFacts,
    InvalidDocument,
    deadline_once_valable,
    document_record,
    dossier_deadline,
    dossier_expired,
    dossier_on,
    dossier_rules_for,
    dossier_state,
    required_documents,
)
from ipe_claims.domain.dossier_rejection import DOSSIER_INCOMPLETE, reject_incomplete_dossier
from ipe_claims.domain.errors import DomainError, UnknownMotif
from ipe_claims.domain.motifs import MOTIFS
from ipe_claims.domain.rib import RIB_KEY_ERROR, InvalidRib
from ipe_claims.domain.rules import REJETE, VALABLE, ClaimFacts, Decision, decide

LOSS = date(2023, 3, 15)
RULES = dossier_rules_for(LOSS)
A_RIB = "007780000123456789012396"
MOROCCAN = DossierFacts("licenciement", foreign_worker=False)
BASE = [FORMULAIRE, CIN, PV_INSPECTION, RIB, ANAPEC]


def kinds(facts: DossierFacts) -> list[str]:
    return [document.kind for document in required_documents(facts, RULES)]


def verify_all(facts: DossierFacts, on: date = LOSS) -> list[DocumentRecord]:
    return [
        document_record(RULES, kind, VERIFIED, on, rib=A_RIB if kind == RIB else None)
        for kind in kinds(facts)
    ]


def test_a_moroccan_worker_dismissed_needs_the_base_list() -> None:
    assert kinds(MOROCCAN) == BASE


def test_a_foreign_worker_brings_a_residence_card_or_passport_instead_of_the_cin() -> None:
    assert kinds(DossierFacts("licenciement", foreign_worker=True)) == [
        FORMULAIRE,
        TITRE_SEJOUR,
        PV_INSPECTION,
        RIB,
        ANAPEC,
    ]


def test_the_end_of_a_fixed_term_contract_needs_the_contract() -> None:
    assert CONTRAT in kinds(DossierFacts("fin_cdd", foreign_worker=False))
    assert all(CONTRAT not in kinds(DossierFacts(m, False)) for m in MOTIFS if m != "fin_cdd")


def test_no_conciliation_before_the_inspector_needs_the_final_judgment() -> None:
    assert JUGEMENT in kinds(DossierFacts("licenciement", False, conciliation_failed=True))
    assert JUGEMENT not in kinds(MOROCCAN)


def test_every_piece_has_labels_and_a_source_and_the_rules_are_dated() -> None:
    for rules in DOSSIER_RULES:
        assert rules.version and rules.effective_from <= LOSS
        for document in rules.documents:
            assert document.label_fr and document.label_ar and document.source
    assert dossier_rules_for(date(2010, 1, 1)) is DOSSIER_RULES[0]


def test_an_unknown_motif_is_refused() -> None:
    with pytest.raises(UnknownMotif):
        DossierFacts("licenciement abusif", False)


def test_nothing_recorded_means_every_piece_is_missing_and_the_dossier_incomplete() -> None:
    dossier = dossier_state(MOROCCAN, RULES, [])
    assert [d.status for d in dossier.required] == [MISSING] * 5
    assert not dossier.complete and dossier.completed_on is None


def test_complete_when_every_required_piece_is_verified_on_the_last_verification_day() -> None:
    records = [*verify_all(MOROCCAN)[:-1], document_record(RULES, ANAPEC, VERIFIED, date(2023, 4, 20))]
    dossier = dossier_state(MOROCCAN, RULES, records)
    assert dossier.complete and dossier.completed_on == date(2023, 4, 20)
    assert dossier.not_verified == ()


def test_received_is_not_verified_and_a_refusal_keeps_its_reason() -> None:
    records = [
        *verify_all(MOROCCAN)[:3],
        document_record(RULES, RIB, RECEIVED, LOSS, rib=A_RIB),
        document_record(RULES, ANAPEC, REFUSED, LOSS, reason="Attestation expirée"),
    ]
    dossier = dossier_state(MOROCCAN, RULES, records)
    assert not dossier.complete
    assert [(d.kind, d.status, d.reason) for d in dossier.not_verified] == [
        (RIB, RECEIVED, None),
        (ANAPEC, REFUSED, "Attestation expirée"),
    ]


def test_the_latest_record_wins_and_a_refusal_after_verification_reopens_the_dossier() -> None:
    complete = verify_all(MOROCCAN, date(2023, 4, 1))
    refused = document_record(RULES, PV_INSPECTION, REFUSED, date(2023, 4, 5), reason="PV illisible")
    again = document_record(RULES, PV_INSPECTION, VERIFIED, date(2023, 4, 9))
    assert not dossier_state(MOROCCAN, RULES, [*complete, refused]).complete
    assert dossier_state(MOROCCAN, RULES, [*complete, refused, again]).completed_on == date(2023, 4, 9)


def test_pieces_not_required_do_not_count_and_a_new_requirement_reopens() -> None:
    extra = document_record(RULES, CONTRAT, REFUSED, LOSS, reason="Sans objet")
    assert dossier_state(MOROCCAN, RULES, [*verify_all(MOROCCAN), extra]).complete
    no_conciliation = DossierFacts("licenciement", False, conciliation_failed=True)
    assert not dossier_state(no_conciliation, RULES, verify_all(MOROCCAN)).complete


@pytest.mark.parametrize(
    ("kind", "status", "reason", "rib"),
    [
        ("piece_inconnue", RECEIVED, None, None),
        (CIN, MISSING, None, None),  # missing is the absence of a record, not a record
        (CIN, "validé", None, None),
        (CIN, REFUSED, None, None),
        (CIN, REFUSED, "   ", None),
        (CIN, REFUSED, "x" * 501, None),
        (CIN, RECEIVED, None, A_RIB),
        (RIB, VERIFIED, None, None),
        (RIB, RECEIVED, None, None),
    ],
)
def test_records_the_dossier_cannot_take(kind: str, status: str, reason: str | None, rib: str | None) -> None:
    with pytest.raises(InvalidDocument):
        document_record(RULES, kind, status, LOSS, reason=reason, rib=rib)


def test_the_rib_is_checked_with_its_key_and_kept_parsed() -> None:
    with pytest.raises(InvalidRib) as raised:
        document_record(RULES, RIB, VERIFIED, LOSS, rib=A_RIB[:-2] + "11")
    assert raised.value.code == RIB_KEY_ERROR and isinstance(raised.value, DomainError)
    record = document_record(RULES, RIB, VERIFIED, LOSS, rib="007 780 0001234567890123 96")
    assert str(record.rib) == A_RIB
    assert document_record(RULES, RIB, REFUSED, LOSS, reason="Compte à l'étranger").rib is None


def test_the_deadline_is_60_days_after_the_loss_but_never_less_than_30_after_filing() -> None:
    assert dossier_deadline(RULES, LOSS, LOSS + timedelta(days=10), None) == LOSS + timedelta(days=60)
    assert dossier_deadline(RULES, LOSS, LOSS + timedelta(days=30), None) == LOSS + timedelta(days=60)
    assert dossier_deadline(RULES, LOSS, LOSS + timedelta(days=55), None) == LOSS + timedelta(days=85)


@pytest.mark.parametrize(
    ("filed_after_loss", "valable_after_filing", "deadline_after_loss"),
    [
        (10, 0, 60),  # decided the day it was filed: 60 days after the loss
        (10, 20, 60),  # decided 30 days before loss + 60: still loss + 60
        (10, 50, 90),  # decided 50 days after filing (an agent's review): 30 days after the decision
        (55, 0, 85),  # filed late in the 60 days, decided at once: filing + 30
        (70, 75, 175),  # force majeure granted 75 days after a late filing: 30 days after it
    ],
)
def test_a_claim_decided_valable_late_has_30_days_after_the_decision(
    filed_after_loss: int, valable_after_filing: int, deadline_after_loss: int
) -> None:
    filed = LOSS + timedelta(days=filed_after_loss)
    valable_on = filed + timedelta(days=valable_after_filing)
    assert dossier_deadline(RULES, LOSS, filed, valable_on) == LOSS + timedelta(days=deadline_after_loss)


@given(st.integers(0, 400), st.none() | st.integers(0, 400))
def test_the_deadline_leaves_30_days_after_filing_and_acceptance_and_60_after_the_loss(
    delay: int, waited: int | None
) -> None:
    filed = LOSS + timedelta(days=delay)
    valable_on = None if waited is None else filed + timedelta(days=waited)
    deadline = dossier_deadline(RULES, LOSS, filed, valable_on)
    assert (deadline - filed).days >= 30 and (deadline - LOSS).days >= 60
    assert valable_on is None or (deadline - valable_on).days >= 30
    assert deadline >= dossier_deadline(RULES, LOSS, filed, None)  # acceptance never shortens it
    assert deadline_once_valable(RULES, dossier_deadline(RULES, LOSS, filed, None), valable_on or filed) == (
        dossier_deadline(RULES, LOSS, filed, valable_on or filed)
    )  # the read model's step from the row's deadline gives the domain's deadline


def test_expiry_is_observed_only_after_the_deadline_and_only_for_an_incomplete_dossier() -> None:
    deadline = date(2023, 5, 14)
    incomplete = dossier_state(MOROCCAN, RULES, [])
    assert not dossier_expired(incomplete, deadline, deadline)
    assert dossier_expired(incomplete, deadline, deadline + timedelta(days=1))
    assert not dossier_expired(
        dossier_state(MOROCCAN, RULES, verify_all(MOROCCAN)), deadline, date(2024, 1, 1)
    )


def test_expiry_is_judged_on_the_dossier_as_it_stood_on_its_deadline() -> None:
    deadline = date(2023, 5, 14)
    in_time = verify_all(MOROCCAN, deadline)
    late = verify_all(MOROCCAN, deadline + timedelta(days=1))
    refused_after = document_record(RULES, ANAPEC, REFUSED, date(2023, 6, 1), reason="Faux")
    assert not dossier_expired(dossier_on(MOROCCAN, RULES, in_time, deadline), deadline, date(2023, 7, 1))
    assert dossier_expired(dossier_on(MOROCCAN, RULES, late, deadline), deadline, date(2023, 7, 1))
    at_deadline = dossier_on(MOROCCAN, RULES, [*in_time, refused_after], deadline)
    assert not dossier_expired(at_deadline, deadline, date(2023, 7, 1))


def valable() -> Decision:
    history = [MonthlyDeclaration("1234567", m, 26, Decimal("3000")) for m in months_before(LOSS, 36)]
    decision = decide(ClaimFacts(LOSS, LOSS + timedelta(days=5), "licenciement"), history)
    assert decision.situation == VALABLE
    return decision


def test_an_incomplete_dossier_after_its_deadline_ends_a_valid_claim_as_rejete() -> None:
    deadline, observed = date(2023, 5, 14), date(2023, 5, 15)
    dossier = dossier_state(MOROCCAN, RULES, verify_all(MOROCCAN)[:3])
    ended = reject_incomplete_dossier(valable(), dossier, deadline, observed)
    assert (ended.situation, ended.rejection_code) == (REJETE, DOSSIER_INCOMPLETE)
    assert ended.rejection_reason_fr == (
        "Dossier incomplet au 14/05/2023 : Attestation de RIB d'un compte bancaire marocain ;"
        " Attestation d'inscription à l'ANAPEC"
    )
    assert ended.rejection_reason_ar and ended.rejection_reason_ar.startswith("ملف غير مكتمل")
    assert (ended.monthly_amount, ended.reference_salary, ended.duration_months) == (None, None, None)
    assert ended.outcomes[:-1] == valable().outcomes  # the entitlement it had stays in the audit trail
    assert dict(ended.outcomes[-1].figures) == {
        "deadline": "2023-05-14",
        "observed_on": "2023-05-15",
        "not_verified": "rib,attestation_anapec",
    }
    assert Decision.from_dict(ended.to_dict()) == ended


def test_no_rejection_before_the_deadline_for_a_complete_dossier_or_a_rejected_claim() -> None:
    deadline = date(2023, 5, 14)
    incomplete = dossier_state(MOROCCAN, RULES, [])
    with pytest.raises(DomainError):
        reject_incomplete_dossier(valable(), incomplete, deadline, deadline)
    with pytest.raises(DomainError):
        reject_incomplete_dossier(
            valable(), dossier_state(MOROCCAN, RULES, verify_all(MOROCCAN)), deadline, date(2024, 1, 1)
        )
    rejected = decide(ClaimFacts(LOSS, LOSS + timedelta(days=5), "demission"), [])
    with pytest.raises(DomainError):
        reject_incomplete_dossier(rejected, incomplete, deadline, date(2024, 1, 1))


@given(
    st.lists(
        st.tuples(st.sampled_from(BASE), st.sampled_from([RECEIVED, VERIFIED, REFUSED]), st.integers(0, 90)),
        max_size=25,
    )
)
def test_complete_exactly_when_the_latest_record_of_each_required_piece_is_a_verification(
    steps: list[tuple[str, str, int]],
) -> None:
    records = [
        document_record(
            RULES,
            kind,
            status,
            LOSS + timedelta(days=day),
            reason="motif" if status == REFUSED else None,
            rib=A_RIB if kind == RIB and status != REFUSED else None,
        )
        for kind, status, day in steps
    ]
    latest = {record.kind: record.status for record in records}
    dossier = dossier_state(MOROCCAN, RULES, records)
    assert dossier.complete == all(latest.get(kind) == VERIFIED for kind in BASE)
    if dossier.complete:
        assert dossier.completed_on in {record.recorded_on for record in records}
