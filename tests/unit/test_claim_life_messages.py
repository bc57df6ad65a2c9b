"""The claim's new events as Avro messages on ipe.claim-events: each has its schema, the stored event and
the domain event give the same record, and the RIB's digits never leave the event store."""

from __future__ import annotations

from datetime import date, timedelta

from ipe_claims.adapters.avro import AvroCodec
from ipe_claims.adapters.claim_messages import RecordDecoder, to_message, to_record
from ipe_claims.domain.claim import CLAIM_EVENTS, Claim
from ipe_claims.domain.dossier import DossierFacts
from ipe_claims.domain.lifecycle import return_to_work
from ipe_claims.domain.review import ForceMajeure
from ipe_claims.domain.rules import ruleset_for
from ipe_claims.settings import REPO_ROOT
from tests.unit.claim_life import (
    AGENT,
    FILED_AT,
    LOSS,
    RIB,
    SCAN,
    a_claim,
    decision_for,
    in_memory_app,
    later,
)

CODEC = AvroCodec(REPO_ROOT / "schemas")
NEW = {
    "ClaimDocumentRecorded", "ClaimReviewRuled", "ClaimForceMajeureGranted", "ClaimDossierExpired",
    "ClaimDossierReminderDue", "ClaimPaymentsScheduled", "ClaimPaymentIssued", "ClaimPaymentsCancelled",
}  # fmt: skip


def lives() -> list[Claim]:
    """Claims whose streams hold every new event between them."""
    reviewed = a_claim("autre")
    reviewed.rule_on_motif(True, "PV : fermeture du chantier", **AGENT, at=later(2))
    reviewed.decide(decision_for(reviewed, ruling=reviewed.motif_ruling), decided_by="projector", at=later(3))
    reviewed.schedule_payments(at=later(3))
    reviewed.record_document("rib", "verified", **AGENT, at=later(4), rib=RIB, sha256=SCAN)
    reviewed.issue_payment("2026-11", file_id="IPE-2026-11-1", at=later(30))
    back = return_to_work(LOSS, 6, date(2027, 1, 10), date(2027, 1, 12), ruleset_for(LOSS))
    reviewed.return_to_work(back, declared_by="employer", at=later(99))
    reviewed.cancel_payments(at=later(99))
    late = a_claim(filed_at=FILED_AT + timedelta(days=70))
    late.decide(decision_for(late), decided_by="projector", at=later(71))
    plea = ForceMajeure("Hospitalisation, certificat au dossier")
    late.grant_force_majeure(
        plea.reason, decision_for(late, plea=plea), **AGENT, decided_by="agent", at=later(80)
    )
    expired = a_claim()
    expired.decide(decision_for(expired), decided_by="projector", at=later(1))
    expired.record_document("copie_cin", "refused", **AGENT, at=later(2), reason="Illisible")
    expired.remind_dossier(DossierFacts("licenciement_economique", False), at=later(55))
    expired.expire_dossier(
        DossierFacts("licenciement_economique", False), decided_by="projector", at=later(90)
    )
    return [reviewed, late, expired]


def test_every_new_event_is_published_with_its_schema() -> None:
    events = [event for claim in lives() for event in claim.collect_events()]
    names = set()
    for event in events:
        name, record = CODEC.decode(to_message(CODEC, event).value)
        names.add(name)
        assert (
            str(record["claim_id"]) == str(event.originator_id)
            and record["version"] == event.originator_version
        )
    assert names >= NEW
    assert {type(event) for event in events} | {
        Claim.AwaitingDeclaration,
        Claim.DeclarationWaitExpired,
    } == set(CLAIM_EVENTS)
    assert set(CODEC.latest) >= NEW


def test_the_stored_event_and_the_domain_event_give_the_same_record() -> None:
    """The relay and the replay decode stored notifications (``RecordDecoder``), the audit domain events."""
    with in_memory_app() as app:
        expected: dict[tuple[object, int], tuple[str, dict[str, object]]] = {}
        for claim in lives():
            pending = claim.collect_events()
            expected |= {(e.originator_id, e.originator_version): to_record(e) for e in pending}
            app.save(*pending)
        notifications = app.recorder.select_notifications(start=1, limit=1000)
        decoder = RecordDecoder(app, with_event_id=True)
        decoded = {(n.originator_id, n.originator_version): decoder.record(n) for n in notifications}
    assert decoded == expected


def test_the_rib_stays_in_the_event_store() -> None:
    (reviewed, *_) = lives()
    (recorded,) = [e for e in reviewed.collect_events() if isinstance(e, Claim.DocumentRecorded)]
    assert recorded.rib == RIB
    name, record = to_record(recorded)
    assert name == "ClaimDocumentRecorded" and "rib" not in record and RIB not in str(record)
    assert RIB.encode() not in to_message(CODEC, recorded).value
    assert record["sha256"] == SCAN and record["agent"] == "agent.benali" and record["agency"] == "CASA-ANFA"
