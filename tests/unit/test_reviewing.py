"""The review use case on the library's in-memory event store and a fake declarations reader: a claim
under "Autre" waits for an agent, the ruling and the decision it leads to are saved together, a late
filing rejected then granted force majeure is decided again with its first decision kept, and a claim
not in review is refused with the domain's code. Force majeure never leaves the insured two open claims:
refused while a later claim is open, it reopens the claim on the insured's record in the claim's save."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from eventsourcing.application import AggregateNotFoundError
from eventsourcing.persistence import IntegrityError

from ipe_claims.application.claims import ClaimsApplication
from ipe_claims.application.clock import FixedClock
from ipe_claims.application.deciding import Decider
from ipe_claims.application.reviewing import ActingAgent, Reviewer
from ipe_claims.domain import review
from ipe_claims.domain.claim import Claim, InsuredRecord, OpenClaimExists
from ipe_claims.domain.contributions import months_before
from ipe_claims.domain.review import InvalidReview
from ipe_claims.domain.rules import FILED_LATE, MOTIF_NOT_INVOLUNTARY
from tests.unit.fakes import AFFILIATION, FakeDeclarations

LOSS = date(2027, 3, 2)
AGENT = ActingAgent("agent.benali", "CASA-ANFA")
DECIDER = "ipe-eligibility-projector"


def file_claim(
    store: ClaimsApplication, declarations: FakeDeclarations, motif: str, filed_days_after: int = 5
) -> uuid.UUID:
    """A claim of a new insured with a full career (36 months declared)."""
    immatriculation = str(uuid.uuid4().int)[:9]
    declarations.declare(immatriculation, months_before(LOSS, 36))
    filed = datetime(LOSS.year, LOSS.month, LOSS.day, 9, tzinfo=UTC) + timedelta(days=filed_days_after)
    return store.submit(
        uuid.uuid4(), filed_at=filed, affiliation_number=AFFILIATION, immatriculation=immatriculation,
        cin="BE1", nom="ALAMI", prenoms="Fatima", job_loss_date=LOSS, motif_code=motif, attestation=True,
        submitted_by="test", channel="http",
    ).id  # fmt: skip


def clock_at(days_after_loss: int) -> FixedClock:
    return FixedClock(
        datetime(LOSS.year, LOSS.month, LOSS.day, 11, tzinfo=UTC) + timedelta(days=days_after_loss)
    )


def reviewer(store: ClaimsApplication, declarations: FakeDeclarations, clock: FixedClock) -> Reviewer:
    return Reviewer(store, declarations, clock, decided_by=DECIDER)


def events_of(store: ClaimsApplication, aggregate_id: uuid.UUID) -> list[str]:
    return [type(event).__name__ for event in store.events.get(aggregate_id)]


@pytest.mark.parametrize("motif", ["autre", "accident_travail"])
def test_a_motif_that_needs_judgement_waits_for_an_agent(
    store: ClaimsApplication, declarations: FakeDeclarations, motif: str
) -> None:
    claim_id = file_claim(store, declarations, motif)
    assert Decider(store, declarations, clock_at(6), DECIDER).settle([claim_id], today=LOSS) == []
    assert declarations.asked == []  # a claim in review needs no history yet
    claim = store.get_claim(claim_id)
    assert claim.situation == "En cours" and claim.awaiting_review
    assert events_of(store, claim_id) == ["Submitted"]


def test_an_involuntary_ruling_is_saved_with_the_decision_it_leads_to(
    store: ClaimsApplication, declarations: FakeDeclarations
) -> None:
    claim_id = file_claim(store, declarations, "autre")
    clock = clock_at(20)
    claim = reviewer(store, declarations, clock).rule_on_motif(claim_id, True, "  Fermeture du site  ", AGENT)
    assert claim.situation == "Valable"
    assert events_of(store, claim_id) == ["Submitted", "ReviewRuled", "Decided"]
    loaded = store.get_claim(claim_id)
    assert loaded.review is not None
    assert (loaded.review.agent, loaded.review.agency, loaded.review.reason, loaded.review.ruled_at) == (
        "agent.benali", "CASA-ANFA", "Fermeture du site", clock.now(),
    )  # fmt: skip
    assert loaded.decided_at == clock.now() and loaded.decisions[0].decided_by == DECIDER
    figures = {o.rule: o.figures for o in loaded.decision.outcomes} if loaded.decision else {}
    assert figures["involuntary_loss"]["review"] == "involuntary"
    # the Decider finds it settled: nothing more
    assert Decider(store, declarations, clock, DECIDER).settle([claim_id]) == []


def test_a_voluntary_ruling_rejects_with_the_agents_reason(
    store: ClaimsApplication, declarations: FakeDeclarations
) -> None:
    claim_id = file_claim(store, declarations, "accident_travail")
    claim = reviewer(store, declarations, clock_at(20)).rule_on_motif(claim_id, False, "Démission", AGENT)
    assert claim.decision is not None and claim.decision.rejection_code == MOTIF_NOT_INVOLUNTARY
    assert "Démission" in (claim.decision.rejection_reason_fr or "")


def test_a_claim_not_in_review_is_refused_with_a_code_and_nothing_is_saved(
    store: ClaimsApplication, declarations: FakeDeclarations
) -> None:
    ordinary = file_claim(store, declarations, "licenciement_economique")
    with pytest.raises(InvalidReview) as not_reviewable:
        reviewer(store, declarations, clock_at(20)).rule_on_motif(ordinary, True, "motif", AGENT)
    assert not_reviewable.value.code == review.MOTIF_NOT_REVIEWABLE
    ruled = file_claim(store, declarations, "autre")
    reviewer(store, declarations, clock_at(20)).rule_on_motif(ruled, True, "Fermeture", AGENT)
    with pytest.raises(InvalidReview) as decided:
        reviewer(store, declarations, clock_at(21)).rule_on_motif(ruled, False, "Erreur", AGENT)
    assert decided.value.code == review.ALREADY_DECIDED
    with pytest.raises(InvalidReview) as no_reason:
        reviewer(store, declarations, clock_at(21)).rule_on_motif(
            file_claim(store, declarations, "autre"), True, " ", AGENT
        )
    assert no_reason.value.code == review.REASON_REQUIRED
    assert events_of(store, ordinary) == ["Submitted"]
    with pytest.raises(AggregateNotFoundError):
        reviewer(store, declarations, clock_at(21)).rule_on_motif(uuid.uuid4(), True, "Fermeture", AGENT)


def test_a_ruling_while_a_declaration_is_still_coming_leaves_the_claim_waiting(
    store: ClaimsApplication, declarations: FakeDeclarations
) -> None:
    """Filed before the month before the loss is due: the ruling is recorded, the claim waits for it."""
    february = months_before(LOSS, 1)[0]
    claim_id = file_claim(store, declarations, "autre", filed_days_after=2)
    insured = store.get_claim(claim_id).immatriculation
    declarations.lines[insured] = [line for line in declarations.lines[insured] if line.period != february]
    claim = reviewer(store, declarations, clock_at(3)).rule_on_motif(claim_id, True, "Fermeture", AGENT)
    assert claim.decision is None and claim.awaiting is not None and not claim.awaiting_review
    declarations.declare(insured, [february])
    (decided,) = Decider(store, declarations, clock_at(5), DECIDER).settle([claim_id], today=LOSS)
    assert decided.situation == "Valable"  # decided with the ruling
    assert events_of(store, claim_id) == ["Submitted", "ReviewRuled", "AwaitingDeclaration", "Decided"]


def test_force_majeure_decides_a_late_filing_again_and_keeps_the_first_decision(
    store: ClaimsApplication, declarations: FakeDeclarations
) -> None:
    claim_id = file_claim(store, declarations, "licenciement_economique", filed_days_after=75)
    first = clock_at(76)
    (rejected,) = Decider(store, declarations, first, DECIDER).settle([claim_id])
    assert rejected.decision is not None and rejected.decision.rejection_code == FILED_LATE
    later = clock_at(90)
    claim = reviewer(store, declarations, later).grant_force_majeure(claim_id, "Hospitalisation", AGENT)
    assert claim.situation == "Valable"
    assert events_of(store, claim_id) == ["Submitted", "Decided", "ForceMajeureGranted", "Decided"]
    loaded = store.get_claim(claim_id)
    assert (loaded.first_decided_at, loaded.decided_at) == (first.now(), later.now())
    assert [d.decision.situation for d in loaded.decisions] == ["Rejeté", "Valable"]
    assert loaded.force_majeure is not None and loaded.force_majeure.agency == "CASA-ANFA"
    with pytest.raises(InvalidReview) as again:  # now Valable: nothing left to excuse
        reviewer(store, declarations, later).grant_force_majeure(claim_id, "Encore", AGENT)
    assert again.value.code == review.NOT_REJECTED_LATE


def test_force_majeure_is_refused_for_a_claim_not_rejected_late(
    store: ClaimsApplication, declarations: FakeDeclarations
) -> None:
    in_review = file_claim(store, declarations, "autre")
    with pytest.raises(InvalidReview) as undecided:
        reviewer(store, declarations, clock_at(20)).grant_force_majeure(in_review, "Hospitalisation", AGENT)
    assert undecided.value.code == review.NOT_REJECTED_LATE
    with pytest.raises(InvalidReview) as no_reason:
        reviewer(store, declarations, clock_at(20)).grant_force_majeure(in_review, "", AGENT)
    assert no_reason.value.code == review.REASON_REQUIRED
    assert events_of(store, in_review) == ["Submitted"]


class RacingStore:
    """The store, with another writer deciding the claim just before the first save."""

    def __init__(self, store: ClaimsApplication, declarations: FakeDeclarations, clock: FixedClock) -> None:
        self.store, self.declarations, self.clock, self.saves = store, declarations, clock, 0

    def get_many(self, ids: list[uuid.UUID]) -> dict[uuid.UUID, Claim]:
        return dict(self.store.get_many(ids))

    def save(self, *claims: Claim) -> object:
        self.saves += 1
        if self.saves == 1:  # the other agent wins: the claim is ruled and decided first
            Reviewer(self.store, self.declarations, self.clock, DECIDER).rule_on_motif(
                claims[0].id, False, "Démission", ActingAgent("agent.other", "RABAT-01")
            )
        return self.store.save(*claims)


def test_a_lost_race_is_answered_against_what_the_winner_recorded(
    store: ClaimsApplication, declarations: FakeDeclarations
) -> None:
    claim_id = file_claim(store, declarations, "autre")
    racing = RacingStore(store, declarations, clock_at(20))
    with pytest.raises(InvalidReview) as lost:
        Reviewer(racing, declarations, clock_at(20), DECIDER).rule_on_motif(
            claim_id, True, "Fermeture", AGENT
        )
    assert lost.value.code == review.ALREADY_DECIDED and racing.saves == 1
    loaded = store.get_claim(claim_id)
    assert loaded.review is not None and loaded.review.agent == "agent.other"


def test_a_store_that_keeps_conflicting_gives_up(
    store: ClaimsApplication, declarations: FakeDeclarations
) -> None:
    class Conflicting:
        def get_many(self, ids: list[uuid.UUID]) -> dict[uuid.UUID, Claim]:
            return dict(store.get_many(ids))

        def save(self, *claims: Claim) -> object:
            raise IntegrityError("another writer")

    claim_id = file_claim(store, declarations, "autre")
    with pytest.raises(IntegrityError):
        Reviewer(Conflicting(), declarations, clock_at(20), DECIDER).rule_on_motif(claim_id, True, "F", AGENT)
    assert events_of(store, claim_id) == ["Submitted"]


# Force majeure and the insured's other claims: never two open at once.


def file_for(
    store: ClaimsApplication, claim_of: uuid.UUID, motif: str, loss: date, filed_days_after: int
) -> uuid.UUID:
    """Another claim of the insured of ``claim_of`` (the same declarations), for a loss on ``loss``."""
    first = store.get_claim(claim_of)
    filed = datetime(loss.year, loss.month, loss.day, 9, tzinfo=UTC) + timedelta(days=filed_days_after)
    return store.submit(
        uuid.uuid4(), filed_at=filed, affiliation_number=AFFILIATION, immatriculation=first.immatriculation,
        cin="BE1", nom="ALAMI", prenoms="Fatima", job_loss_date=loss, motif_code=motif, attestation=True,
        submitted_by="test", channel="http",
    ).id  # fmt: skip


def rejected_late(store: ClaimsApplication, declarations: FakeDeclarations) -> uuid.UUID:
    claim_id = file_claim(store, declarations, "licenciement_economique", filed_days_after=75)
    (rejected,) = Decider(store, declarations, clock_at(76), DECIDER).settle([claim_id])
    assert rejected.decision is not None and rejected.decision.rejection_code == FILED_LATE
    return claim_id


def record_of(store: ClaimsApplication, claim_id: uuid.UUID) -> InsuredRecord:
    record_id = InsuredRecord.id_for(store.get_claim(claim_id).immatriculation)
    record = store.get_many([record_id])[record_id]
    assert isinstance(record, InsuredRecord)
    return record


def test_force_majeure_is_refused_while_a_later_claim_of_the_insured_is_open(
    store: ClaimsApplication, declarations: FakeDeclarations
) -> None:
    late = rejected_late(store, declarations)
    later = file_for(store, late, "demission", LOSS + timedelta(days=60), filed_days_after=20)
    assert store.get_claim(later).is_open_on(clock_at(90).now().date())  # undecided: open
    with pytest.raises(InvalidReview) as refused:
        reviewer(store, declarations, clock_at(90)).grant_force_majeure(late, "Hospitalisation", AGENT)
    assert refused.value.code == review.LATER_CLAIM_OPEN
    assert events_of(store, late) == ["Submitted", "Decided"]
    assert record_of(store, late).last_claim_id == later


def test_once_the_later_claim_is_closed_force_majeure_reopens_the_claim_and_a_new_filing_is_refused(
    store: ClaimsApplication, declarations: FakeDeclarations
) -> None:
    late = rejected_late(store, declarations)
    later = file_for(store, late, "demission", LOSS + timedelta(days=60), filed_days_after=20)
    (closed,) = Decider(store, declarations, clock_at(85), DECIDER).settle([later])
    assert closed.situation == "Rejeté" and not closed.is_open_on(clock_at(90).now().date())
    claim = reviewer(store, declarations, clock_at(90)).grant_force_majeure(late, "Hospitalisation", AGENT)
    assert claim.situation == "Valable"
    assert record_of(store, late).claim_ids == [later, late]  # the reopened claim is the insured's last
    assert events_of(store, InsuredRecord.id_for(claim.immatriculation))[-1] == "ClaimReopened"
    with pytest.raises(OpenClaimExists) as refused:
        file_for(store, late, "licenciement_economique", LOSS + timedelta(days=80), filed_days_after=12)
    assert refused.value.claim_id == late


class RecordingStore:
    """The store, noting what each save held: the aggregates and the versions they were saved at."""

    def __init__(self, store: ClaimsApplication) -> None:
        self.store, self.saves = store, list[list[tuple[str, int]]]()

    def get_many(self, ids: list[uuid.UUID]) -> dict[uuid.UUID, Any]:
        return dict(self.store.get_many(ids))

    def save(self, *aggregates: Claim | InsuredRecord) -> object:
        saved = self.store.save(*aggregates)
        self.saves.append([(type(one).__name__, one.version) for one in aggregates])
        return saved


def test_the_reopening_is_saved_with_the_claims_events(
    store: ClaimsApplication, declarations: FakeDeclarations
) -> None:
    late = rejected_late(store, declarations)
    recording = RecordingStore(store)
    Reviewer(recording, declarations, clock_at(90), DECIDER).grant_force_majeure(
        late, "Hospitalisation", AGENT
    )
    record = record_of(store, late)
    assert recording.saves == [[("Claim", 4), ("InsuredRecord", record.version)]]
    assert events_of(store, record.id) == ["Opened", "ClaimOpened", "ClaimReopened"]


def test_force_majeure_granted_to_a_claim_it_leaves_closed_leaves_the_record_alone(
    store: ClaimsApplication, declarations: FakeDeclarations
) -> None:
    """Decided again but rejected (too few days declared): nothing to reopen, nothing to conflict on."""
    claim_id = file_claim(store, declarations, "licenciement_economique", filed_days_after=75)
    insured = store.get_claim(claim_id).immatriculation
    declarations.lines[insured] = declarations.lines[insured][-6:]
    (first,) = Decider(store, declarations, clock_at(76), DECIDER).settle([claim_id])
    assert first.decision is not None and first.decision.rejection_code == FILED_LATE
    claim = reviewer(store, declarations, clock_at(90)).grant_force_majeure(
        claim_id, "Hospitalisation", AGENT
    )
    assert claim.situation == "Rejeté"
    assert events_of(store, InsuredRecord.id_for(insured)) == ["Opened", "ClaimOpened"]


class FilingMeanwhile(RecordingStore):
    """The store, with the employer filing a new claim for the insured just before the first save."""

    def __init__(self, store: ClaimsApplication, late: uuid.UUID) -> None:
        super().__init__(store)
        self.late = late
        self.filed: uuid.UUID | None = None

    def save(self, *aggregates: Claim | InsuredRecord) -> object:
        if self.filed is None:
            self.filed = file_for(
                self.store, self.late, "licenciement_economique", LOSS + timedelta(days=80), 5
            )
        return super().save(*aggregates)


def test_a_filing_at_the_same_time_conflicts_on_the_record_and_force_majeure_is_then_refused(
    store: ClaimsApplication, declarations: FakeDeclarations
) -> None:
    late = rejected_late(store, declarations)
    racing = FilingMeanwhile(store, late)
    with pytest.raises(InvalidReview) as lost:
        Reviewer(racing, declarations, clock_at(90), DECIDER).grant_force_majeure(
            late, "Hospitalisation", AGENT
        )
    assert lost.value.code == review.LATER_CLAIM_OPEN and racing.saves == []  # the first save conflicted
    assert events_of(store, late) == ["Submitted", "Decided"]
    assert record_of(store, late).last_claim_id == racing.filed
