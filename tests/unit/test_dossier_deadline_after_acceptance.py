"""The dossier's deadline of a claim decided Valable late (an agent's review, force majeure): the worker has
30 days after the decision, so the fund's delay never ends the claim for an incomplete dossier."""

from __future__ import annotations

from datetime import date, timedelta

import pytest

from ipe_claims.domain.claim import Claim
from ipe_claims.domain.dossier import DossierFacts
from ipe_claims.domain.dossier_rejection import DossierNotExpired
from ipe_claims.domain.review import ForceMajeure
from ipe_claims.domain.rules import REJETE, VALABLE
from tests.unit.claim_life import AGENT, FILED_AT, LOSS, a_claim, decision_for, in_memory_app, later, on

MOROCCAN = DossierFacts("autre", foreign_worker=False)


def reviewed(days_after_filing: int) -> Claim:
    """An "Autre" claim an agent rules involuntary the day before it is decided Valable."""
    claim = a_claim("autre")
    claim.rule_on_motif(True, "PV : fermeture du chantier", **AGENT, at=later(days_after_filing - 1))
    claim.decide(
        decision_for(claim, ruling=claim.motif_ruling), decided_by="projector", at=later(days_after_filing)
    )
    assert claim.situation == VALABLE
    return claim


def test_a_claim_decided_valable_50_days_after_filing_has_30_days_after_the_decision() -> None:
    claim = a_claim("autre")
    assert claim.valable_on is None and claim.dossier_deadline == LOSS + timedelta(days=60)
    claim = reviewed(50)
    assert claim.valable_on == later(50).date() == date(2026, 11, 24)
    assert claim.dossier_deadline == date(2026, 12, 24) > LOSS + timedelta(days=60)


def test_a_claim_decided_the_day_it_was_filed_keeps_60_days_after_the_loss() -> None:
    claim = a_claim()
    claim.decide(decision_for(claim), decided_by="projector", at=FILED_AT + timedelta(seconds=2))
    assert claim.valable_on == FILED_AT.date() and claim.dossier_deadline == LOSS + timedelta(days=60)


def test_the_day_of_the_decision_is_the_casablanca_date() -> None:
    claim = a_claim("autre")
    claim.rule_on_motif(True, "PV : fermeture du chantier", **AGENT, at=later(49))
    late_evening = on(date(2026, 11, 24), 23)  # 00:00 on the 25th in Casablanca (UTC+1)
    claim.decide(decision_for(claim, ruling=claim.motif_ruling), decided_by="projector", at=late_evening)
    assert claim.valable_on == date(2026, 11, 25) and claim.dossier_deadline == date(2026, 12, 25)


def test_force_majeure_granted_after_a_late_filing_gives_30_days_after_the_new_decision() -> None:
    claim = a_claim(filed_at=FILED_AT + timedelta(days=70))  # filed on 14/12/2026
    claim.decide(decision_for(claim), decided_by="projector", at=claim.filed_at + timedelta(seconds=2))
    assert claim.situation == REJETE and claim.valable_on is None
    assert claim.dossier_deadline == date(2027, 1, 13)  # filing + 30, as before any Valable decision
    plea = ForceMajeure("Hospitalisation, certificat médical au dossier")
    claim.grant_force_majeure(
        plea.reason, decision_for(claim, plea=plea), **AGENT, decided_by="agent.benali", at=later(95)
    )
    with in_memory_app() as app:
        app.save(claim)
        loaded = app.get_claim(claim.id)
    assert loaded.valable_on == date(2027, 1, 8) and loaded.dossier_deadline == date(2027, 2, 7)


def test_a_late_accepted_claim_expires_only_after_30_days_from_its_decision_and_keeps_that_deadline() -> None:
    claim = reviewed(50)
    with pytest.raises(DossierNotExpired) as early:  # the day after loss + 60: not yet
        claim.expire_dossier(MOROCCAN, decided_by="projector", at=on(LOSS + timedelta(days=61)))
    assert early.value.code == "dossier_not_expired"
    claim.expire_dossier(MOROCCAN, decided_by="projector", at=on(date(2026, 12, 25)))
    with in_memory_app() as app:
        app.save(claim)
        loaded = app.get_claim(claim.id)
    assert loaded.situation == REJETE and loaded.dossier_expired_on == date(2026, 12, 24)
    assert loaded.valable_on == date(2026, 11, 24) and loaded.dossier_deadline == date(2026, 12, 24)
