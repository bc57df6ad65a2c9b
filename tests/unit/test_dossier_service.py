"""Recording dossier pieces and ending expired dossiers (ipe_claims/application/dossier.py) on the library's
in-memory store and an in-memory scan store."""

from __future__ import annotations

import hashlib
from datetime import date, timedelta

import pytest

from ipe_claims.application.claims import ClaimsApplication
from ipe_claims.application.clock import FixedClock
from ipe_claims.application.dossier import (
    ExpireDossiers,
    RecordDocument,
    RecordNotSaved,
    dossier_facts,
    dossier_of,
)
from ipe_claims.domain import dossier
from ipe_claims.domain.claim import Claim
from ipe_claims.domain.dossier import DocumentRecord, InvalidDocument
from ipe_claims.domain.rib import InvalidRib
from ipe_claims.domain.scans import MAX_SCAN_BYTES, RefusedScan
from tests.unit.claim_life import AGENT, FILED_AT, RIB, a_claim, decision_for, on

PDF = b"%PDF-1.7\n1 0 obj\n"
MOROCCAN_PIECES = [dossier.FORMULAIRE, dossier.CIN, dossier.PV_INSPECTION, dossier.RIB, dossier.ANAPEC]


class MemoryScans:
    """The ScanStore port in memory."""

    def __init__(self) -> None:
        self.stored: dict[str, tuple[bytes, str]] = {}

    def put(self, data: bytes, media_type: str) -> str:
        key = hashlib.sha256(data).hexdigest()
        self.stored[key] = (data, media_type)
        return key


def valid_claim(app: ClaimsApplication) -> Claim:
    claim = a_claim()
    claim.decide(decision_for(claim), "projector", at=FILED_AT)
    app.save(claim)
    return claim


def recorder(
    app: ClaimsApplication, scans: MemoryScans | None = None, day: date = date(2026, 10, 20)
) -> RecordDocument:
    return RecordDocument(app, scans or MemoryScans(), FixedClock(on(day)))


def test_an_agent_records_pieces_until_the_dossier_is_complete(app: ClaimsApplication) -> None:
    claim, scans = valid_claim(app), MemoryScans()
    record = recorder(app, scans)
    assert [d.kind for d in dossier_of(claim).required] == MOROCCAN_PIECES
    for kind in MOROCCAN_PIECES:
        extra = {"rib": RIB} if kind == dossier.RIB else {}
        claim = record(
            claim.id, kind, "verified", scan=PDF if kind == dossier.CIN else None, **AGENT, **extra
        )
    state = dossier_of(app.get_claim(claim.id))
    assert state.complete and state.completed_on == date(2026, 10, 20)
    cin = next(d for d in claim.documents if d.record.kind == dossier.CIN)
    assert cin.sha256 == hashlib.sha256(PDF).hexdigest() and scans.stored[cin.sha256] == (
        PDF,
        "application/pdf",
    )
    assert str(claim.rib) == RIB


def test_a_scan_is_typed_from_its_bytes_and_size_limited_before_anything_is_stored(
    app: ClaimsApplication,
) -> None:
    claim, scans = valid_claim(app), MemoryScans()
    record = recorder(app, scans)
    with pytest.raises(RefusedScan) as refused:
        record(claim.id, dossier.CIN, "received", scan=b"MZ\x90\x00 an executable", **AGENT)
    assert refused.value.code == "scan_type_refused"
    with pytest.raises(RefusedScan) as too_large:
        record(claim.id, dossier.CIN, "received", scan=PDF + b"0" * MAX_SCAN_BYTES, **AGENT)
    assert too_large.value.code == "scan_too_large"
    assert scans.stored == {} and app.get_claim(claim.id).documents == []


def test_a_rib_is_checked_by_its_key_and_a_refusal_states_its_reason(app: ClaimsApplication) -> None:
    claim = valid_claim(app)
    record = recorder(app)
    wrong_key = RIB[:-2] + f"{(int(RIB[-2:]) % 97) + 1:02d}"
    with pytest.raises(InvalidRib) as bad:
        record(claim.id, dossier.RIB, "verified", rib=wrong_key, **AGENT)
    assert bad.value.code == "rib_key"
    with pytest.raises(InvalidDocument) as no_reason:
        record(claim.id, dossier.ANAPEC, "refused", **AGENT)
    assert no_reason.value.code == "reason_required"
    refused = record(claim.id, dossier.ANAPEC, "refused", reason="attestation périmée", **AGENT)
    assert [(d.record.kind, d.record.status, d.record.reason) for d in refused.documents] == [
        (dossier.ANAPEC, "refused", "attestation périmée")
    ]


def test_the_pieces_recorded_say_whether_the_worker_is_foreign_and_a_judgment_is_needed() -> None:
    day = date(2026, 10, 20)
    assert dossier_facts("licenciement", []) == dossier.DossierFacts("licenciement", False, False)
    foreign = dossier_facts("licenciement", [DocumentRecord(dossier.TITRE_SEJOUR, "received", day)])
    assert foreign.foreign_worker and not foreign.conciliation_failed
    corrected = [
        DocumentRecord(dossier.TITRE_SEJOUR, "received", day),
        DocumentRecord(dossier.CIN, "verified", day),
    ]
    assert not dossier_facts("licenciement", corrected).foreign_worker
    judged = dossier_facts("licenciement", [DocumentRecord(dossier.JUGEMENT, "received", day)])
    assert judged.conciliation_failed


def test_a_dossier_incomplete_on_its_deadline_ends_the_claim_rejected(app: ClaimsApplication) -> None:
    claim = valid_claim(app)
    recorder(app)(claim.id, dossier.FORMULAIRE, "verified", **AGENT)
    deadline = claim.dossier_deadline
    on_deadline = ExpireDossiers(app, FixedClock(on(deadline)), decided_by="test")
    assert on_deadline([claim.id]) == []  # not yet: the deadline day is still the worker's

    ended = ExpireDossiers(app, FixedClock(on(deadline + timedelta(days=1))), decided_by="test")([claim.id])

    assert [c.id for c in ended] == [claim.id]
    stored = app.get_claim(claim.id)
    assert stored.decision is not None and stored.decision.situation == "Rejeté"
    assert stored.decision.rejection_code == "dossier_incomplete"
    assert (
        stored.decision.rejection_reason_fr is not None
        and "Dossier incomplet" in stored.decision.rejection_reason_fr
    )
    assert stored.dossier_expired_on == deadline
    assert ExpireDossiers(app, FixedClock(on(deadline + timedelta(days=2))), "test")([claim.id]) == []


def test_a_complete_dossier_does_not_expire(app: ClaimsApplication) -> None:
    claim = valid_claim(app)
    record = recorder(app)
    for kind in MOROCCAN_PIECES:
        record(claim.id, kind, "verified", **({"rib": RIB} if kind == dossier.RIB else {}), **AGENT)
    later = FixedClock(on(claim.dossier_deadline + timedelta(days=30)))
    assert ExpireDossiers(app, later, decided_by="test")([claim.id]) == []
    assert app.get_claim(claim.id).situation == "Valable"


def test_a_piece_that_loses_every_race_is_refused_record_lost_and_not_recorded(
    app: ClaimsApplication, monkeypatch: pytest.MonkeyPatch
) -> None:
    claim = valid_claim(app)
    monkeypatch.setattr(app, "save_once", lambda *aggregates: False)  # another writer first every time
    with pytest.raises(RecordNotSaved) as refused:
        recorder(app)(claim.id, dossier.CIN, "received", **AGENT)
    assert refused.value.code == "record_lost" and app.get_claim(claim.id).documents == []
