"""The decide use case on the library's in-memory event store and a fake declarations reader: a claim is
decided once, waits for a declaration still coming, is decided when it arrives or once the wait expired,
and what it records is timed by the injected clock."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime, timedelta

import pytest
from eventsourcing.application import AggregateNotFoundError
from eventsourcing.persistence import IntegrityError

from ipe_claims.application.claims import ClaimsApplication
from ipe_claims.application.clock import FixedClock
from ipe_claims.application.deciding import Decider
from ipe_claims.domain.claim import Claim
from ipe_claims.domain.contributions import months_before
from tests.unit.fakes import AFFILIATION, FakeDeclarations

IMMATRICULATION = "100000001"
LOSS = date(2028, 2, 3)  # January 2028 is declared by 10 February
FILED = datetime(2028, 2, 5, 9, tzinfo=UTC)  # before that deadline: a missing January is awaited


@pytest.fixture
def clock() -> FixedClock:
    return FixedClock(FILED + timedelta(seconds=2))


def decider(store: ClaimsApplication, declarations: FakeDeclarations, clock: FixedClock) -> Decider:
    return Decider(store, declarations, clock, decided_by="ipe-eligibility-projector")


def file_claim(store: ClaimsApplication, immatriculation: str = IMMATRICULATION) -> uuid.UUID:
    claim = store.submit(
        uuid.uuid4(), filed_at=FILED, affiliation_number=AFFILIATION, immatriculation=immatriculation, cin="BE1",
        nom="ALAMI", prenoms="Fatima", job_loss_date=LOSS, motif_code="licenciement_economique", attestation=True,
        submitted_by="test", channel="kafka",
    )  # fmt: skip
    return claim.id


def events_of(store: ClaimsApplication, claim_id: uuid.UUID) -> list[str]:
    return [type(event).__name__ for event in store.events.get(claim_id)]


def test_a_claim_with_its_history_is_decided_once(
    store: ClaimsApplication, declarations: FakeDeclarations, clock: FixedClock
) -> None:
    claim_id = file_claim(store)
    declarations.declare(IMMATRICULATION, months_before(LOSS, 36))
    (changed,) = decider(store, declarations, clock).settle([claim_id, claim_id])  # twice in one poll
    assert changed.id == claim_id and changed.situation == "Valable"
    assert events_of(store, claim_id) == ["Submitted", "Decided"]
    assert store.get_claim(claim_id).situation == "Valable"


def test_a_redelivered_submission_finds_the_claim_settled(
    store: ClaimsApplication, declarations: FakeDeclarations, clock: FixedClock
) -> None:
    claim_id = file_claim(store)
    declarations.declare(IMMATRICULATION, months_before(LOSS, 36))
    decider(store, declarations, clock).settle([claim_id])
    declarations.asked.clear()
    assert decider(store, declarations, clock).settle([claim_id]) == []
    assert events_of(store, claim_id) == ["Submitted", "Decided"]
    assert declarations.asked == []  # a settled claim's history is not even read


def test_a_missing_declaration_not_yet_due_is_awaited_then_the_claim_is_decided_when_it_arrives(
    store: ClaimsApplication, declarations: FakeDeclarations, clock: FixedClock
) -> None:
    claim_id = file_claim(store)
    *earlier, january = months_before(LOSS, 36)
    declarations.declare(IMMATRICULATION, earlier)
    (waiting,) = decider(store, declarations, clock).settle([claim_id])
    assert waiting.decision is None and waiting.awaiting is not None
    assert (waiting.awaiting.month, waiting.awaiting.due) == (january, date(2028, 2, 10))
    assert decider(store, declarations, clock).settle([claim_id], today=date(2028, 2, 8)) == []  # still due

    declarations.declare(IMMATRICULATION, [january])
    (decided,) = decider(store, declarations, clock).settle([claim_id], today=date(2028, 2, 8))
    assert decided.situation == "Valable"
    assert events_of(store, claim_id) == ["Submitted", "AwaitingDeclaration", "Decided"]


def test_a_waiting_claim_is_decided_once_its_wait_expired(
    store: ClaimsApplication, declarations: FakeDeclarations, clock: FixedClock
) -> None:
    claim_id = file_claim(store)
    declarations.declare(IMMATRICULATION, months_before(LOSS, 36)[:-1])  # January never comes
    decider(store, declarations, clock).settle([claim_id])
    assert decider(store, declarations, clock).settle([claim_id]) == []  # a submission never expires a wait
    assert (
        decider(store, declarations, clock).settle([claim_id], today=date(2028, 2, 10)) == []
    )  # the due day
    (decided,) = decider(store, declarations, clock).settle([claim_id], today=date(2028, 2, 11))
    assert decided.decision is not None
    assert events_of(store, claim_id) == [
        "Submitted",
        "AwaitingDeclaration",
        "DeclarationWaitExpired",
        "Decided",
    ]


def test_what_a_settlement_records_is_timed_by_the_injected_clock(
    store: ClaimsApplication, declarations: FakeDeclarations, clock: FixedClock
) -> None:
    claim_id = file_claim(store)
    declarations.declare(IMMATRICULATION, months_before(LOSS, 36))
    clock.advance(timedelta(days=3, hours=2))
    decider(store, declarations, clock).settle([claim_id])
    decided = store.get_claim(claim_id)
    assert decided.modified_on == clock.now() == datetime(2028, 2, 8, 11, 0, 2, tzinfo=UTC)
    assert decided.created_on == FILED


def test_a_poll_of_claims_is_read_once_and_saved_together(
    store: ClaimsApplication, declarations: FakeDeclarations, clock: FixedClock
) -> None:
    first, second = file_claim(store, "100000001"), file_claim(store, "100000002")
    declarations.declare("100000001", months_before(LOSS, 36))
    declarations.declare("100000002", months_before(LOSS, 36)[:-1])
    changed = decider(store, declarations, clock).settle([first, second])
    assert [claim.id for claim in changed] == [first, second]
    assert declarations.asked == [("100000001", LOSS), ("100000002", LOSS)]
    assert store.get_claim(first).situation == "Valable" and store.get_claim(second).awaiting is not None


def test_a_claim_the_store_does_not_hold_cannot_be_settled(
    store: ClaimsApplication, declarations: FakeDeclarations, clock: FixedClock
) -> None:
    known = file_claim(store)
    with pytest.raises(AggregateNotFoundError):
        decider(store, declarations, clock).settle([known, uuid.uuid4()])
    assert events_of(store, known) == ["Submitted"]  # nothing of the poll was saved


class StaleStore:
    """A store that hands out the claims as they were before another writer settled them."""

    def __init__(self, store: ClaimsApplication, stale: dict[uuid.UUID, Claim]) -> None:
        self.store, self.stale = store, stale

    def get_many(self, ids: object) -> dict[uuid.UUID, Claim]:
        return self.stale

    def save(self, *aggregates: Claim) -> object:
        return self.store.save(*aggregates)


def test_a_lost_race_saves_nothing_and_the_retry_finds_the_claim_settled(
    store: ClaimsApplication, declarations: FakeDeclarations, clock: FixedClock
) -> None:
    claim_id = file_claim(store)
    declarations.declare(IMMATRICULATION, months_before(LOSS, 36))
    stale = {claim_id: store.get_claim(claim_id)}
    decider(store, declarations, clock).settle([claim_id])  # the winner
    loser = Decider(StaleStore(store, stale), declarations, clock, decided_by="ipe-eligibility-projector")
    with pytest.raises(IntegrityError):
        loser.settle([claim_id])
    assert decider(store, declarations, clock).settle([claim_id]) == []
    assert events_of(store, claim_id) == ["Submitted", "Decided"]
