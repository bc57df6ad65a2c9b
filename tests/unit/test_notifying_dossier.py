"""The worker hears of the pieces their dossier still needs (ipe_claims/application/notifying.py), on the
library's in-memory store and fakes: at the acceptance, and at each piece an agent refuses, as the claim
stood at that event, and in the reminder before the deadline, in French and Arabic, the same text on every
redelivery and replay."""

from __future__ import annotations

from typing import Any

from ipe_claims.adapters.claim_messages import to_record
from ipe_claims.adapters.notification_store import StoredNotifications
from ipe_claims.application.claims import ClaimsApplication
from ipe_claims.application.dossier import dossier_facts
from ipe_claims.application.notifying import Notify, kind_of
from ipe_claims.application.ports import Message
from ipe_claims.domain import dossier
from ipe_claims.domain.claim import Claim
from ipe_claims.domain.review import ForceMajeure
from services.notifier.messages import MessageRenderer
from tests.unit.claim_life import AGENT, FILED_AT, RIB, a_claim, decision_for, later
from tests.unit.fakes_notifying import FakeContacts, FakeQueue

DEADLINE = "01/12/2026"  # 60 days after the loss of 2026-10-02 (more than 30 after the filing)
LABELS = {rule.kind: (rule.label_fr, rule.label_ar) for rule in dossier.DOSSIER_RULES[0].documents}
EVERY_PIECE = (dossier.FORMULAIRE, dossier.CIN, dossier.PV_INSPECTION, dossier.RIB, dossier.ANAPEC)


def record(claim: Claim, kind: str, status: str, day: int, reason: str | None = None) -> None:
    rib = RIB if kind == dossier.RIB and status != dossier.REFUSED else None
    claim.record_document(kind, status, **AGENT, at=later(day), reason=reason, rib=rib, sha256="b" * 64)


def relayed(app: ClaimsApplication, claim: Claim, name: str) -> list[tuple[str, dict[str, Any]]]:
    """The claim's events of Avro record ``name``, as the relay publishes them."""
    return [r for r in (to_record(e) for e in app.events.get(claim.id)) if r[0] == name]


def messages(app: ClaimsApplication, events: list[tuple[str, dict[str, Any]]]) -> list[Message]:
    queue = FakeQueue()
    done = Notify(StoredNotifications(app), MessageRenderer(), "ipe.test")(events, FakeContacts(), queue)
    return [queue.messages[d.event_id] for d in done]


def listed(message: Message, kind: str) -> tuple[bool, bool]:
    """Whether the piece is in the French and in the Arabic list of pieces to bring."""
    label_fr, label_ar = LABELS[kind]
    return f"- {label_fr}" in message.fr.body, f"- {label_ar}" in message.ar.body


def test_the_acceptance_lists_the_pieces_missing_at_the_decision_and_the_deadline(
    app: ClaimsApplication,
) -> None:
    claim = a_claim()
    record(claim, dossier.CIN, "verified", 1)
    record(claim, dossier.RIB, "received", 1)
    claim.decide(decision_for(claim), decided_by="projector", at=later(2))
    app.save(claim)
    record(claim, dossier.FORMULAIRE, "verified", 3)  # after the decision: not in its message
    app.save(claim)

    (message,) = messages(app, relayed(app, claim, "ClaimDecided"))

    assert message.kind == "valid"
    assert message.fr.subject.endswith(f"est acceptée : pièces à fournir avant le {DEADLINE}")
    assert DEADLINE in message.ar.subject and DEADLINE in message.fr.body and DEADLINE in message.ar.body
    assert listed(message, dossier.FORMULAIRE) == listed(message, dossier.PV_INSPECTION) == (True, True)
    assert listed(message, dossier.ANAPEC) == (True, True)
    assert listed(message, dossier.CIN) == (False, False)  # verified
    assert listed(message, dossier.RIB) == (False, False)  # received: the agency's turn, not the worker's
    assert RIB not in message.fr.body + message.ar.body


def test_a_refused_piece_tells_the_piece_the_reason_and_what_remains(app: ClaimsApplication) -> None:
    claim = a_claim()
    claim.decide(decision_for(claim), decided_by="projector", at=later(1))
    record(claim, dossier.RIB, "verified", 2)
    record(claim, dossier.CIN, "received", 3)
    record(claim, dossier.CIN, "refused", 4, reason="Copie illisible,\n  recto seulement")
    app.save(claim)
    recorded = relayed(app, claim, "ClaimDocumentRecorded")
    assert [kind_of(name, event) for name, event in recorded] == [None, None, "dossier_piece_refused"]

    (message,) = messages(app, recorded)

    label_fr, label_ar = LABELS[dossier.CIN]
    assert message.kind == "dossier_piece_refused"
    assert message.fr.subject.endswith(f": {label_fr}") and label_ar in message.ar.subject
    assert "Copie illisible" not in message.fr.subject + message.ar.subject  # the reason stays in the body
    assert "Motif du refus : Copie illisible, recto seulement" in message.fr.body
    assert "سبب الرفض: Copie illisible, recto seulement" in message.ar.body
    assert f"- {label_fr} (refusée : à fournir de nouveau)" in message.fr.body
    assert f"- {label_ar} (مرفوضة: يجب الإدلاء بها من جديد)" in message.ar.body
    assert listed(message, dossier.PV_INSPECTION) == (True, True)
    assert listed(message, dossier.RIB) == (False, False)
    assert DEADLINE in message.fr.body and DEADLINE in message.ar.body
    assert RIB not in message.fr.body + message.ar.body and "b" * 64 not in message.fr.body


def test_a_complete_dossier_says_nothing_about_pieces(app: ClaimsApplication) -> None:
    claim = a_claim()
    for kind in EVERY_PIECE:
        record(claim, kind, "verified", 1)
    claim.decide(decision_for(claim), decided_by="projector", at=later(2))
    app.save(claim)

    (message,) = messages(app, relayed(app, claim, "ClaimDecided"))

    assert message.fr.subject == "Votre demande d'indemnité pour perte d'emploi est acceptée"
    assert message.ar.subject == "تم قبول طلب التعويض عن فقدان الشغل الخاص بكم"
    assert DEADLINE not in message.fr.body + message.ar.body and "\n- " not in message.fr.body


def test_a_redelivered_or_replayed_event_says_the_same_whatever_came_later(app: ClaimsApplication) -> None:
    claim = a_claim()
    claim.decide(decision_for(claim), decided_by="projector", at=later(1))
    record(claim, dossier.ANAPEC, "refused", 2, reason="Attestation expirée")
    app.save(claim)
    events = relayed(app, claim, "ClaimDecided") + relayed(app, claim, "ClaimDocumentRecorded")
    first = messages(app, events)
    for kind in EVERY_PIECE:  # the dossier completed since
        record(claim, kind, "verified", 5)
    app.save(claim)

    again = messages(app, events)  # a fresh delivery log renders them again: a replay

    assert [m.kind for m in first] == ["valid", "dossier_piece_refused"]
    assert again == first
    assert listed(first[1], dossier.ANAPEC) == (True, True)


def test_the_decision_after_force_majeure_lists_the_pieces_missing_then(app: ClaimsApplication) -> None:
    late = a_claim(filed_at=FILED_AT.replace(month=12, day=20))  # 79 days after the loss
    late.decide(decision_for(late), decided_by="projector", at=later(76))
    record(late, dossier.CIN, "verified", 77)  # a late claim may still take pieces, for its plea
    plea = ForceMajeure("Hospitalisation, certificat au dossier")
    late.grant_force_majeure(plea.reason, decision_for(late, plea=plea), **AGENT, decided_by="agent",
                             at=later(80))  # fmt: skip
    app.save(late)

    rejected, valid = messages(app, relayed(app, late, "ClaimDecided"))

    assert rejected.kind == "rejected" and valid.kind == "valid"
    assert listed(valid, dossier.FORMULAIRE) == (True, True) and listed(valid, dossier.CIN) == (False, False)
    assert "23/01/2027" in valid.fr.subject  # 30 days after the new decision (later than filing + 30)


def test_an_acceptance_after_an_agents_review_names_a_deadline_30_days_after_it(
    app: ClaimsApplication,
) -> None:
    claim = a_claim("autre")
    claim.rule_on_motif(True, "PV : fermeture du chantier", **AGENT, at=later(49))
    claim.decide(decision_for(claim, ruling=claim.motif_ruling), decided_by="projector", at=later(50))
    app.save(claim)

    (message,) = messages(app, relayed(app, claim, "ClaimDecided"))

    assert message.kind == "valid"
    assert message.fr.subject.endswith("pièces à fournir avant le 24/12/2026")  # decided on 24/11/2026
    assert "24/12/2026" in message.ar.subject and "24/12/2026" in message.fr.body + message.ar.body
    assert DEADLINE not in message.fr.body + message.ar.body  # loss + 60 had nearly passed at the decision


def test_the_reminder_lists_the_pieces_owed_when_it_was_due_and_the_deadline(app: ClaimsApplication) -> None:
    claim = a_claim()
    claim.decide(decision_for(claim), decided_by="projector", at=later(1))
    record(claim, dossier.CIN, "verified", 2)
    record(claim, dossier.RIB, "refused", 3, reason="Compte au nom d'un tiers")
    record(claim, dossier.ANAPEC, "received", 4)
    claim.remind_dossier(dossier_facts(claim.motif_code, claim.document_records), at=later(50))
    app.save(claim)
    reminded = relayed(app, claim, "ClaimDossierReminderDue")
    assert [kind_of(name, event) for name, event in reminded] == ["dossier_reminder"]

    (message,) = messages(app, reminded)
    for kind in EVERY_PIECE:  # the dossier completed since: the reminder still says what was owed then
        record(claim, kind, "verified", 55)
    app.save(claim)
    assert messages(app, reminded) == [message]

    assert message.kind == "dossier_reminder"
    assert message.fr.subject.startswith("Rappel : pièces à fournir avant le 01/12/2026")
    assert message.ar.subject.startswith("تذكير") and DEADLINE in message.ar.subject
    assert "ALAMI" not in message.fr.subject + message.ar.subject  # no personal data in the subject
    assert DEADLINE in message.fr.body and DEADLINE in message.ar.body
    assert listed(message, dossier.FORMULAIRE) == listed(message, dossier.PV_INSPECTION) == (True, True)
    assert listed(message, dossier.CIN) == listed(message, dossier.ANAPEC) == (False, False)
    label_fr, label_ar = LABELS[dossier.RIB]
    assert f"- {label_fr} (refusée : à fournir de nouveau)" in message.fr.body
    assert f"- {label_ar} (مرفوضة: يجب الإدلاء بها من جديد)" in message.ar.body
    assert RIB not in message.fr.body + message.ar.body and "Compte au nom" not in message.fr.body
