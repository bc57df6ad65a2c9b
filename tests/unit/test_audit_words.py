"""`ipe audit claim` says every claim event in words, and never shows a RIB's digits."""

from __future__ import annotations

import json
from datetime import date, timedelta
from typing import Any

from ipe_claims.application.dossier import dossier_facts
from ipe_claims.audit.words import RIB_WITHHELD, in_words, shown_payload
from ipe_claims.domain.claim import CLAIM_EVENTS, Claim
from ipe_claims.domain.lifecycle import AwaitedDeclaration
from ipe_claims.domain.review import ForceMajeure, MotifRuling
from ipe_claims.domain.rules import VALABLE
from tests.unit.claim_life import AGENT, FILED_AT, RIB, SCAN, a_claim, decision_for, later, on


def whole_lives() -> list[Any]:
    """The events of three claims that between them take every kind of event."""
    reviewed = a_claim("autre")
    ruling = MotifRuling(True, "PV : fermeture du site")
    reviewed.rule_on_motif(ruling.involuntary, ruling.reason, **AGENT, at=later(1))
    reviewed.decide(decision_for(reviewed, ruling=ruling), decided_by="projector", at=later(2))
    assert reviewed.situation == VALABLE
    reviewed.record_document("copie_cin", "refused", **AGENT, at=later(3), reason="illisible", sha256=SCAN)
    reviewed.record_document("rib", "verified", **AGENT, at=later(3), rib=RIB)
    reviewed.schedule_payments(at=later(3))
    first = sorted(reviewed.payments)[0]
    reviewed.issue_payment(first, file_id="PAIN-2026-11", at=later(40))
    facts = dossier_facts(reviewed.motif_code, reviewed.document_records)
    reviewed.remind_dossier(facts, at=on(reviewed.dossier_deadline - timedelta(days=2)))
    reviewed.expire_dossier(
        facts, decided_by="projector", at=on(reviewed.dossier_deadline + timedelta(days=1))
    )
    reviewed.cancel_payments(at=on(reviewed.dossier_deadline + timedelta(days=1)))

    late = a_claim(filed_at=FILED_AT + timedelta(days=70))
    late.decide(decision_for(late), decided_by="projector", at=late.filed_at)
    plea = ForceMajeure("Hospitalisation, certificat au dossier")
    late.grant_force_majeure(
        plea.reason, decision_for(late, plea=plea), **AGENT, decided_by="a", at=later(80)
    )

    waiting = a_claim()
    month = date(2026, 9, 1)
    waiting.await_declaration(AwaitedDeclaration(waiting.affiliation_number, month, date(2026, 10, 31)))
    waiting.record_wait_expired(date(2026, 11, 2))
    return [*reviewed.collect_events(), *late.collect_events(), *waiting.collect_events()]


def test_every_claim_event_is_said_in_words_without_the_ribs_digits() -> None:
    events = whole_lives()
    seen = {type(event) for event in events}
    assert seen >= set(CLAIM_EVENTS) - {Claim.ReturnedToWork}  # returns to work: next test
    said = {type(event).__name__: in_words(event) for event in events}
    assert all(sentence != name for name, sentence in said.items())
    words = " | ".join(in_words(event) for event in events)
    shown = json.dumps([shown_payload(e, dict(vars(e))) for e in events], default=str)
    assert RIB not in words and RIB not in shown and RIB_WITHHELD in shown
    assert "Piece « rib » recorded as verified, bank account recorded (digits withheld)" in words
    assert f"Piece « copie_cin » recorded as refused (illisible), scan {SCAN[:12]}…" in words
    assert "reminded of the pieces still owed (formulaire_demande, copie_cin, " in words
    assert "An agent ruled the job loss involuntary: PV : fermeture du site" in words
    assert "An agent excused the late filing (force majeure): Hospitalisation, certificat au dossier" in words
    assert "Decided Valable:" in words and "Decided Rejeté: " in words
    assert "The dossier was incomplete on its deadline" in words
    assert "Payments scheduled for 2026-11, " in words and "in the bank file PAIN-2026-11" in words
    assert "Payments cancelled for " in words
    assert "The decision waits for the declaration of 2026-09" in words
    assert "The wait for the declaration of 2026-09 expired" in words


def test_a_return_to_work_is_said_with_its_dates() -> None:
    from ipe_claims.domain.lifecycle import return_to_work
    from ipe_claims.domain.rules import ruleset_for

    claim = a_claim()
    claim.decide(decision_for(claim), decided_by="projector", at=later(1))
    assert claim.decision is not None and claim.decision.duration_months
    loss = claim.job_loss_date
    returned = return_to_work(loss, claim.decision.duration_months, loss + timedelta(days=40),
                              loss + timedelta(days=38), ruleset_for(loss))  # fmt: skip
    claim.return_to_work(returned, "employer")
    sentence = in_words(list(claim.collect_events())[-1])
    assert sentence.startswith(f"Returned to work on {returned.return_date.isoformat()} (declared ")
    assert f"benefit ends {returned.benefit_end.isoformat()}" in sentence
