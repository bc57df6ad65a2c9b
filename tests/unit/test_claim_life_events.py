"""The claim's life after filing on the library's in-memory store: an agent's review, force majeure decided
again, the dossier's pieces until complete or expired; each refusal with its code."""

from __future__ import annotations

from datetime import timedelta

import pytest

from ipe_claims.domain.claim import Claim, ClaimAlreadyDecided
from ipe_claims.domain.claim_life import AgentRequired
from ipe_claims.domain.dossier import DossierFacts, InvalidDocument
from ipe_claims.domain.dossier_rejection import DOSSIER_INCOMPLETE, DossierNotExpired
from ipe_claims.domain.review import ForceMajeure, InvalidReview, MotifRuling
from ipe_claims.domain.rib import InvalidRib
from ipe_claims.domain.rules import FILED_LATE, INSUFFICIENT_DAYS_36, REJETE, VALABLE
from tests.unit.claim_life import (
    AGENT,
    FILED_AT,
    LOSS,
    RIB,
    RIB_22,
    SCAN,
    a_claim,
    decision_for,
    in_memory_app,
    later,
    on,
    saved_and_loaded,
)

MOROCCAN = DossierFacts("licenciement_economique", foreign_worker=False)
PIECES = ("formulaire_demande", "copie_cin", "pv_inspection_travail", "attestation_anapec")


def events_of(claim: Claim) -> list[str]:
    return [type(event).__name__ for event in claim.collect_events()]


def test_an_autre_claim_waits_for_review_then_is_decided_with_the_ruling() -> None:
    claim = a_claim("autre")
    assert claim.awaiting_review and claim.situation == "En cours"
    claim.rule_on_motif(True, "  Fermeture du chantier constatée par le PV  ", **AGENT, at=later(3))
    assert not claim.awaiting_review
    with pytest.raises(InvalidReview) as ignored:
        claim.decide(decision_for(claim), decided_by="projector", at=later(4))  # the catalogue rejects Autre
    assert ignored.value.code == "decision_ignores_ruling"
    opposite = MotifRuling(False, "Fermeture du chantier constatée par le PV")
    with pytest.raises(InvalidReview):  # the same reason, the other verdict
        claim.decide(decision_for(claim, ruling=opposite), decided_by="projector", at=later(4))
    claim.decide(decision_for(claim, ruling=claim.motif_ruling), decided_by="projector", at=later(4))
    with in_memory_app() as app:
        loaded = saved_and_loaded(app, claim)
    assert loaded.situation == VALABLE and loaded.decided_at == later(4)
    assert loaded.review is not None and loaded.review.reason == "Fermeture du chantier constatée par le PV"
    assert (loaded.review.agent, loaded.review.agency, loaded.review.ruled_at) == (
        "agent.benali",
        "CASA-ANFA",
        later(3),
    )
    assert loaded.decision is not None
    (motif,) = [o for o in loaded.decision.outcomes if o.rule == "involuntary_loss"]
    assert motif.passed and motif.figures["review"] == "involuntary"


def test_a_voluntary_ruling_rejects_the_claim() -> None:
    claim = a_claim("accident_travail")
    claim.rule_on_motif(False, "Le PV établit une démission", **AGENT, at=later(3))
    claim.decide(decision_for(claim, ruling=claim.motif_ruling), decided_by="projector", at=later(4))
    assert claim.situation == REJETE and claim.decision is not None
    assert claim.decision.rejection_code == "motif_not_involuntary"


@pytest.mark.parametrize(
    ("motif", "reason", "who", "code"),
    [
        ("licenciement", "une raison", AGENT, "motif_not_reviewable"),
        ("autre", "   ", AGENT, "reason_required"),
        ("autre", "x" * 501, AGENT, "reason_too_long"),
        ("autre", "une raison", {"agent": " ", "agency": "CASA-ANFA"}, "agent_required"),
        ("autre", "une raison", {"agent": "agent.benali", "agency": ""}, "agent_required"),
    ],
)
def test_a_ruling_that_cannot_be_taken_is_refused_with_its_code(
    motif: str, reason: str, who: dict[str, str], code: str
) -> None:
    claim = a_claim(motif)
    with pytest.raises((InvalidReview, AgentRequired)) as refused:
        claim.rule_on_motif(True, reason, **who, at=later(3))
    assert refused.value.code == code
    assert events_of(claim) == ["Submitted"]


def test_a_claim_is_reviewed_once_and_only_before_its_decision() -> None:
    claim = a_claim("autre")
    claim.rule_on_motif(True, "PV : fermeture", **AGENT, at=later(3))
    with pytest.raises(InvalidReview) as twice:
        claim.rule_on_motif(False, "PV : démission", **AGENT, at=later(3))
    assert twice.value.code == "review_already_ruled"
    decided = a_claim("autre")
    decided.decide(decision_for(decided), decided_by="projector", at=later(4))  # today's automatic rejection
    with pytest.raises(InvalidReview) as after:
        decided.rule_on_motif(True, "PV : fermeture", **AGENT, at=later(5))
    assert after.value.code == "claim_already_decided"


def test_a_late_filing_excused_for_force_majeure_is_decided_again_keeping_the_first_decision() -> None:
    claim = a_claim(filed_at=FILED_AT + timedelta(days=70))
    first_at = claim.filed_at + timedelta(seconds=2)
    claim.decide(decision_for(claim), decided_by="projector", at=first_at)
    assert claim.decision is not None and claim.decision.rejection_code == FILED_LATE
    plea = ForceMajeure("Hospitalisation du 3/10 au 30/11, certificat médical au dossier")
    granted_at = first_at + timedelta(days=20)
    claim.grant_force_majeure(
        plea.reason, decision_for(claim, plea=plea), **AGENT, decided_by="agent.benali", at=granted_at
    )
    with in_memory_app() as app:
        loaded = saved_and_loaded(app, claim)
    assert [type(e).__name__ for e in app.repository.event_store.get(claim.id)] == [
        "Submitted", "Decided", "ForceMajeureGranted", "Decided",
    ]  # fmt: skip
    assert loaded.situation == VALABLE
    assert loaded.first_decided_at == first_at and loaded.decided_at == granted_at
    assert [record.decision.situation for record in loaded.decisions] == [REJETE, VALABLE]
    assert [record.decided_by for record in loaded.decisions] == ["projector", "agent.benali"]
    assert loaded.force_majeure is not None and loaded.force_majeure.reason == plea.reason
    with pytest.raises(InvalidReview) as again:  # the new decision is not a late rejection any more
        loaded.grant_force_majeure(
            plea.reason, decision_for(loaded, plea=plea), **AGENT, decided_by="a", at=granted_at
        )
    assert again.value.code == "not_rejected_late"
    with pytest.raises(ClaimAlreadyDecided):
        loaded.decide(decision_for(loaded), decided_by="projector", at=granted_at)


def test_force_majeure_is_refused_where_it_excuses_nothing() -> None:
    in_time = a_claim()
    in_time.decide(decision_for(in_time), decided_by="projector", at=later(1))
    with pytest.raises(InvalidReview) as not_late:
        in_time.grant_force_majeure("raison", decision_for(in_time), **AGENT, decided_by="a", at=later(2))
    assert not_late.value.code == "not_rejected_late"
    late = a_claim(filed_at=FILED_AT + timedelta(days=70))
    late.decide(decision_for(late), decided_by="projector", at=later(71))
    with pytest.raises(InvalidReview) as ignored:  # the decision was not reached with the plea
        late.grant_force_majeure("raison", decision_for(late), **AGENT, decided_by="a", at=later(72))
    assert ignored.value.code == "decision_ignores_ruling"
    assert len(late.decisions) == 1


def test_documents_are_recorded_until_the_dossier_is_complete() -> None:
    claim = a_claim()
    assert not claim.dossier_for(MOROCCAN).complete
    claim.record_document("rib", "received", **AGENT, at=on(LOSS + timedelta(days=5)), rib=RIB)
    for day, kind in enumerate(PIECES, start=6):
        claim.record_document(kind, "verified", **AGENT, at=on(LOSS + timedelta(days=day)), sha256=SCAN)
    assert [d.kind for d in claim.dossier_for(MOROCCAN).not_verified] == ["rib"]
    assert claim.rib is None  # received, not yet verified: nothing is paid to it
    claim.record_document(
        "rib", "verified", **AGENT, at=on(LOSS + timedelta(days=12)), rib=f"{RIB[:3]} {RIB[3:]}"
    )
    with in_memory_app() as app:
        loaded = saved_and_loaded(app, claim)
    dossier = loaded.dossier_for(MOROCCAN)
    assert dossier.complete and dossier.completed_on == LOSS + timedelta(days=12)
    assert loaded.rib is not None and str(loaded.rib) == RIB
    assert loaded.documents[1].sha256 == SCAN and loaded.documents[1].agent == "agent.benali"
    stored = list(app.repository.event_store.get(claim.id))[-1]
    assert isinstance(stored, Claim.DocumentRecorded)
    assert stored.rib == RIB and RIB not in repr(stored) and RIB_22[6:] not in repr(loaded.documents[-1])


@pytest.mark.parametrize(
    ("kind", "status", "extra", "error", "code"),
    [
        ("carte_grise", "received", {}, InvalidDocument, "document_kind_unknown"),
        ("copie_cin", "lost", {}, InvalidDocument, "document_status_invalid"),
        ("copie_cin", "refused", {}, InvalidDocument, "reason_required"),
        ("copie_cin", "received", {"rib": RIB}, InvalidDocument, "rib_not_expected"),
        ("rib", "verified", {}, InvalidDocument, "rib_required"),
        ("rib", "verified", {"rib": RIB[:-2] + "00"}, InvalidRib, "rib_key"),
        ("rib", "verified", {"rib": RIB[:-1]}, InvalidRib, "rib_length"),
        ("copie_cin", "received", {"sha256": "A" * 64}, InvalidDocument, "scan_digest_invalid"),
        ("copie_cin", "received", {"sha256": "abc"}, InvalidDocument, "scan_digest_invalid"),
    ],
)
def test_a_document_that_cannot_be_recorded_is_refused_with_its_code(
    kind: str, status: str, extra: dict[str, str], error: type[Exception], code: str
) -> None:
    claim = a_claim()
    with pytest.raises(error) as refused:
        claim.record_document(kind, status, **AGENT, at=later(1), **extra)
    assert getattr(refused.value, "code", None) == code
    assert events_of(claim) == ["Submitted"]


def test_a_claim_whose_rejection_is_final_takes_no_more_pieces() -> None:
    short = a_claim()
    short.decide(decision_for(short, months=10), decided_by="projector", at=later(1))
    assert short.decision is not None and short.decision.rejection_code == INSUFFICIENT_DAYS_36
    with pytest.raises(InvalidDocument) as closed:
        short.record_document("copie_cin", "received", **AGENT, at=later(2))
    assert closed.value.code == "claim_closed"
    late = a_claim(filed_at=FILED_AT + timedelta(days=70))
    late.decide(decision_for(late), decided_by="projector", at=later(71))
    late.record_document("copie_cin", "received", **AGENT, at=later(72))  # it may still plead force majeure


def test_a_dossier_incomplete_on_its_deadline_ends_the_claim_with_a_new_decision() -> None:
    claim = a_claim()
    claim.decide(decision_for(claim), decided_by="projector", at=later(1))
    claim.record_document("copie_cin", "verified", **AGENT, at=later(2))
    deadline = claim.dossier_deadline
    assert deadline == LOSS + timedelta(days=60)
    with pytest.raises(DossierNotExpired) as early:
        claim.expire_dossier(MOROCCAN, decided_by="projector", at=on(deadline, 22))  # 23:00 in Casablanca
    assert early.value.code == "dossier_not_expired"
    claim.expire_dossier(MOROCCAN, decided_by="projector", at=on(deadline + timedelta(days=3)))
    with in_memory_app() as app:
        loaded = saved_and_loaded(app, claim)
    assert loaded.situation == REJETE and loaded.dossier_expired_on == deadline
    assert loaded.decision is not None and loaded.decision.rejection_code == DOSSIER_INCOMPLETE
    assert loaded.first_decided_at == later(1) and loaded.decided_at == on(deadline + timedelta(days=3))
    with pytest.raises(DossierNotExpired) as again:
        loaded.expire_dossier(MOROCCAN, decided_by="projector", at=on(deadline + timedelta(days=4)))
    assert again.value.code == "claim_not_valable"


def test_a_dossier_complete_on_its_deadline_does_not_expire() -> None:
    claim = a_claim()
    claim.decide(decision_for(claim), decided_by="projector", at=later(1))
    for kind in PIECES:
        claim.record_document(kind, "verified", **AGENT, at=later(2))
    claim.record_document("rib", "verified", **AGENT, at=later(2), rib=RIB)
    with pytest.raises(DossierNotExpired) as complete:
        claim.expire_dossier(
            MOROCCAN, decided_by="projector", at=on(claim.dossier_deadline + timedelta(days=9))
        )
    assert complete.value.code == "dossier_not_expired"
    undecided = a_claim()
    with pytest.raises(DossierNotExpired) as en_cours:
        undecided.expire_dossier(MOROCCAN, decided_by="projector", at=later(90))
    assert en_cours.value.code == "claim_not_valable"
