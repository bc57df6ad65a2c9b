"""The reminder before the dossier's deadline (domain/dossier_reminder.py, Claim.remind_dossier and
application/dossier.py RemindDossiers) on the library's in-memory store: once per claim, only while the worker
still owes pieces, only from 10 days before the deadline up to the deadline itself."""

from __future__ import annotations

import uuid
from collections.abc import Collection, Mapping
from datetime import date, timedelta
from typing import Any

import pytest

from ipe_claims.application.claims import ClaimsApplication
from ipe_claims.application.clock import FixedClock
from ipe_claims.application.dossier import RemindDossiers, dossier_facts
from ipe_claims.domain import dossier
from ipe_claims.domain.claim import Claim
from ipe_claims.domain.dossier_reminder import (
    ALREADY_REMINDED,
    CLAIM_NOT_VALABLE,
    NOTHING_OWED,
    OUTSIDE_WINDOW,
    ReminderNotDue,
)
from tests.unit.claim_life import AGENT, FILED_AT, RIB, a_claim, decision_for, on, saved_and_loaded

DEADLINE = date(
    2026, 12, 1
)  # 60 days after the loss of 2026-10-02: later than the filing's and decision's + 30
FIRST_DAY = DEADLINE - timedelta(days=10)  # dossier-2014.1's reminder_days_before_deadline


def valid(*pieces: tuple[str, str]) -> Claim:
    claim = a_claim()
    claim.decide(decision_for(claim), "projector", at=FILED_AT)
    for kind, status in pieces:
        rib = RIB if kind == dossier.RIB and status != dossier.REFUSED else None
        reason = "illisible" if status == dossier.REFUSED else None
        claim.record_document(kind, status, **AGENT, at=on(date(2026, 10, 20)), rib=rib, reason=reason)
    return claim


def remind(claim: Claim, day: date) -> None:
    claim.remind_dossier(dossier_facts(claim.motif_code, claim.document_records), at=on(day))


def refusal(claim: Claim, day: date) -> str:
    with pytest.raises(ReminderNotDue) as refused:
        remind(claim, day)
    return refused.value.code


def test_the_reminder_names_the_pieces_still_owed_and_the_deadline(app: ClaimsApplication) -> None:
    claim = valid((dossier.FORMULAIRE, "verified"), (dossier.CIN, "refused"), (dossier.RIB, "received"))
    assert claim.dossier_deadline == DEADLINE
    remind(claim, FIRST_DAY)

    loaded = saved_and_loaded(app, claim)
    event = list(app.events.get(claim.id))[-1]
    assert isinstance(event, Claim.DossierReminderDue)
    assert (event.deadline, event.observed_on) == (DEADLINE, FIRST_DAY)
    # Refused or missing: owed; received: the agency's turn; verified: done.
    assert event.owed == [dossier.CIN, dossier.PV_INSPECTION, dossier.ANAPEC]
    assert loaded.dossier_reminded_on == FIRST_DAY


def test_a_claim_is_reminded_once(app: ClaimsApplication) -> None:
    claim = valid()
    remind(claim, FIRST_DAY)
    assert refusal(claim, FIRST_DAY + timedelta(days=1)) == ALREADY_REMINDED
    assert refusal(saved_and_loaded(app, claim), DEADLINE) == ALREADY_REMINDED


def test_the_window_runs_from_10_days_before_the_deadline_to_the_deadline_itself() -> None:
    assert refusal(valid(), FIRST_DAY - timedelta(days=1)) == OUTSIDE_WINDOW
    assert refusal(valid(), DEADLINE + timedelta(days=1)) == OUTSIDE_WINDOW  # past it: the claim expires
    on_the_last_day = valid()
    remind(on_the_last_day, DEADLINE)
    assert on_the_last_day.dossier_reminded_on == DEADLINE


def test_a_worker_who_owes_nothing_is_not_reminded() -> None:
    every = (dossier.FORMULAIRE, dossier.CIN, dossier.PV_INSPECTION, dossier.RIB, dossier.ANAPEC)
    assert refusal(valid(*((kind, "verified") for kind in every)), FIRST_DAY) == NOTHING_OWED
    assert refusal(valid(*((kind, "received") for kind in every)), FIRST_DAY) == NOTHING_OWED


def test_only_a_valable_claim_is_reminded() -> None:
    assert refusal(a_claim(), FIRST_DAY) == CLAIM_NOT_VALABLE
    rejected = a_claim()
    rejected.decide(decision_for(rejected, months=5), "projector", at=FILED_AT)
    assert refusal(rejected, FIRST_DAY) == CLAIM_NOT_VALABLE


def sweep(store: ClaimsApplication, day: date, *claims: Claim) -> list[uuid.UUID]:
    return [claim.id for claim in RemindDossiers(store, FixedClock(on(day)))([c.id for c in claims])]


def test_the_sweep_reminds_the_claims_due_once(store: ClaimsApplication) -> None:
    due, complete = valid(), valid()
    for kind in (dossier.FORMULAIRE, dossier.CIN, dossier.PV_INSPECTION, dossier.RIB, dossier.ANAPEC):
        complete.record_document(kind, "verified", **AGENT, at=on(date(2026, 10, 21)),
                                 rib=RIB if kind == dossier.RIB else None)  # fmt: skip
    store.save(due, complete)

    assert sweep(store, FIRST_DAY - timedelta(days=1), due, complete) == []
    assert sweep(store, FIRST_DAY + timedelta(days=2), due, complete) == [due.id]
    assert sweep(store, FIRST_DAY + timedelta(days=3), due, complete) == []  # the next sweep: reminded
    assert sweep(store, DEADLINE + timedelta(days=1), due, complete) == []
    reminders = [e for e in store.events.get(due.id) if isinstance(e, Claim.DossierReminderDue)]
    assert [e.observed_on for e in reminders] == [FIRST_DAY + timedelta(days=2)]
    assert not any(isinstance(e, Claim.DossierReminderDue) for e in store.events.get(complete.id))


class Racing:
    """The store as a second projector sees it: it loads the claims, then the first projector saves its
    reminder before this one saves."""

    def __init__(self, store: ClaimsApplication, first: RemindDossiers) -> None:
        self.store = store
        self.first = first

    def get_many(self, ids: Collection[uuid.UUID]) -> Mapping[uuid.UUID, Any]:
        loaded = self.store.get_many(ids)
        self.first(ids)
        return loaded

    def save(self, *aggregates: Any) -> object:
        return self.store.save(*aggregates)


def test_two_projectors_racing_record_one_reminder(store: ClaimsApplication) -> None:
    claim = valid()
    store.save(claim)
    clock = FixedClock(on(FIRST_DAY))
    second = RemindDossiers(Racing(store, RemindDossiers(store, clock)), clock)

    assert second([claim.id]) == []  # its save conflicts: the first one's reminder stands
    reminders = [e for e in store.events.get(claim.id) if isinstance(e, Claim.DossierReminderDue)]
    assert len(reminders) == 1
