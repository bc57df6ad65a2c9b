"""The filing service on the library's in-memory event store and fakes of its other ports: no database,
no broker, milliseconds."""

from __future__ import annotations

import uuid
from collections.abc import Collection, Sequence
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest

from ipe_claims.application import filing
from ipe_claims.application.claims import ClaimsApplication
from ipe_claims.application.clock import FixedClock
from ipe_claims.application.filing import FileClaim, Filed, Filing
from ipe_claims.application.intake import Declared, Refusal, Submission
from ipe_claims.application.ports import Submitter
from ipe_claims.domain.claim import InsuredRecord
from ipe_claims.domain.rules import SCHEME_START

NOW = datetime(2026, 11, 30, 10, 0, tzinfo=UTC)
AFFILIATION = "1234567"


class Declarations:
    """Who each affiliation declared: {(immatriculation, affiliation): Declared}."""

    def __init__(self) -> None:
        self.people: dict[tuple[str, str], Declared] = {}
        self.reads = 0

    def declare(self, affiliation: str = AFFILIATION) -> str:
        immatriculation = str(uuid.uuid4().int)[:9]
        self.people[(immatriculation, affiliation)] = Declared("AB123", "NOM", "PRENOM")
        return immatriculation

    def declared(self, pairs: Sequence[tuple[str, str]]) -> list[Declared | None]:
        self.reads += 1
        return [self.people.get(pair) for pair in pairs]


class Accounts:
    def __init__(self, **held: Submitter | Refusal) -> None:
        self.held = held

    def submitters(self, callers: Collection[str]) -> dict[str, Submitter | Refusal]:
        return {caller: self.held[caller] for caller in callers}


class Racing:
    """The store where another writer wins the first ``times`` transactions."""

    def __init__(self, store: ClaimsApplication, times: int = 0) -> None:
        self.store, self.times = store, times
        self.saves = 0

    def get_many(self, ids: Collection[uuid.UUID]) -> dict[uuid.UUID, Any]:
        return self.store.get_many(ids)

    def first_version(self, claim_id: uuid.UUID) -> Any:
        return self.store.first_version(claim_id)

    def save_once(self, *aggregates: Any) -> bool:
        self.saves += 1
        if self.times:
            self.times -= 1
            return False
        return self.store.save_once(*aggregates)


@pytest.fixture
def declarations() -> Declarations:
    return Declarations()


def service(store: Any, declarations: Declarations, now: datetime = NOW) -> Filing:
    employer = Submitter("employeur", "employer", frozenset({AFFILIATION}))
    return Filing(store, declarations, Accounts(employeur=employer), FixedClock(now))


def ask(immatriculation: str, claim_id: uuid.UUID | None = None, loss: str = "2026-11-15",
        affiliation: str = AFFILIATION, caller: str = "employeur") -> FileClaim:  # fmt: skip
    submission = Submission(affiliation, immatriculation, loss, "licenciement_economique", True)
    return FileClaim(caller, claim_id or uuid.uuid4(), submission, "http")


def filed(answer: Filed | Refusal) -> Filed:
    if isinstance(answer, Refusal):
        raise AssertionError(f"refused: {answer.code}")
    return answer


def code(answer: Filed | Refusal) -> str:
    return answer.code if isinstance(answer, Refusal) else "filed"


def test_a_claim_is_filed_with_the_insured_as_declared(
    store: ClaimsApplication, declarations: Declarations
) -> None:
    insured = declarations.declare()
    (answer,) = service(store, declarations).file([ask(insured)])
    claim = filed(answer).claim
    assert filed(answer).created and store.get_claim(claim.id).version == 1
    assert (claim.immatriculation, claim.nom, claim.submitted_by, claim.channel) == (insured, "NOM", "employeur",
                                                                                     "http")  # fmt: skip
    record = store.get_many([InsuredRecord.id_for(insured)])[InsuredRecord.id_for(insured)]
    assert record.last_claim_id == claim.id


def test_the_same_submission_twice_is_one_claim(store: ClaimsApplication, declarations: Declarations) -> None:
    insured, claim_id = declarations.declare(), uuid.uuid4()
    first = filed(service(store, declarations).file([ask(insured, claim_id)])[0])
    later = service(store, declarations, NOW + timedelta(hours=1))
    again = filed(later.file([ask(insured, claim_id)])[0])
    assert (first.created, again.created) == (True, False)
    assert again.claim.id == first.claim.id and again.claim.filed_at == NOW


def test_the_same_submission_twice_in_one_batch_is_one_claim(
    store: ClaimsApplication, declarations: Declarations
) -> None:
    insured, claim_id = declarations.declare(), uuid.uuid4()
    answers = service(store, declarations).file([ask(insured, claim_id), ask(insured, claim_id)])
    assert [filed(answer).created for answer in answers] == [True, False]
    assert {filed(answer).claim.id for answer in answers} == {claim_id}


def test_an_idempotency_key_reused_for_another_submission_is_refused(
    store: ClaimsApplication, declarations: Declarations
) -> None:
    insured, claim_id = declarations.declare(), uuid.uuid4()
    filed(service(store, declarations).file([ask(insured, claim_id)])[0])
    (answer,) = service(store, declarations).file([ask(insured, claim_id, loss="2026-11-01")])
    assert isinstance(answer, Refusal) and (answer.code, answer.field) == ("idempotency_key_reused",
                                                                           "Idempotency-Key")  # fmt: skip


def test_an_insured_with_an_open_claim_is_refused(
    store: ClaimsApplication, declarations: Declarations
) -> None:
    insured = declarations.declare()
    filed(service(store, declarations).file([ask(insured)])[0])
    (answer,) = service(store, declarations).file([ask(insured)])
    assert code(answer) == "open_claim_exists"


@pytest.mark.parametrize(
    ("loss", "refused"),
    [("2026-12-01", "job_loss_date_in_future"),
     ((SCHEME_START - timedelta(days=1)).isoformat(), "job_loss_date_before_scheme"),
     ("20261115", "invalid_date")],
)  # fmt: skip
def test_a_job_loss_date_out_of_the_scheme_is_refused(
    store: ClaimsApplication, declarations: Declarations, loss: str, refused: str
) -> None:
    insured = declarations.declare()
    (answer,) = service(store, declarations).file([ask(insured, loss=loss)])
    assert isinstance(answer, Refusal) and (answer.code, answer.field) == (refused, "job_loss_date")
    assert store.get_many([InsuredRecord.id_for(insured)]) == {}  # nothing stored


def test_an_affiliation_not_held_is_not_found_and_never_looked_up(
    store: ClaimsApplication, declarations: Declarations
) -> None:
    elsewhere = declarations.declare("7654321")
    (answer,) = service(store, declarations).file([ask(elsewhere, affiliation="7654321")])
    assert isinstance(answer, Refusal) and (answer.code, answer.field) == ("not_found", "affiliation_number")
    assert declarations.reads == 1  # the batch's one read, for nobody


def test_an_insured_the_affiliation_never_declared_is_refused(
    store: ClaimsApplication, declarations: Declarations
) -> None:
    (answer,) = service(store, declarations).file([ask("999999999")])
    assert code(answer) == "insured_not_declared"


def test_a_caller_the_accounts_refuse_gets_their_refusal(
    store: ClaimsApplication, declarations: Declarations
) -> None:
    expired = Refusal("unauthorized", "Jeton expiré.", "…")
    accounts = Accounts(parti=expired)
    (answer,) = Filing(store, declarations, accounts, FixedClock(NOW)).file([ask(declarations.declare(),
                                                                                  caller="parti")])  # fmt: skip
    assert answer is expired


def test_a_batch_with_one_bad_submission_files_the_others_in_one_read_each(
    store: ClaimsApplication, declarations: Declarations
) -> None:
    good = [declarations.declare() for _ in range(3)]
    batch = [ask(good[0]), ask(good[1], loss="2027-01-01"), ask(good[1]), ask(good[2])]
    answers = service(store, declarations).file(batch)
    assert [code(answer) for answer in answers] == ["filed", "job_loss_date_in_future", "filed", "filed"]
    assert [filed(a).claim.id for a in answers if isinstance(a, Filed)] == [
        batch[n].claim_id for n in (0, 2, 3)
    ]
    assert declarations.reads == 1


def test_two_claims_of_one_insured_in_a_batch_the_second_is_refused(
    store: ClaimsApplication, declarations: Declarations
) -> None:
    """In turn: the second one reads what the first one saved, rather than conflicting with it."""
    insured, counted = declarations.declare(), Racing(store)
    answers = service(counted, declarations).file([ask(insured), ask(insured)])
    assert [code(answer) for answer in answers] == ["filed", "open_claim_exists"]
    assert counted.saves == 2


def test_a_conflict_with_another_writer_files_each_again(
    store: ClaimsApplication, declarations: Declarations
) -> None:
    insured = [declarations.declare() for _ in range(2)]
    answers = service(Racing(store, times=1), declarations).file([ask(one) for one in insured])
    assert [filed(answer).created for answer in answers] == [True, True]


def test_a_store_that_keeps_changing_gives_up(store: ClaimsApplication, declarations: Declarations) -> None:
    with pytest.raises(filing.StoreKeptChanging):
        service(Racing(store, times=filing.ATTEMPTS), declarations).file([ask(declarations.declare())])


def test_validate_is_the_batch_form_a_preview_is_a_list_of_one(declarations: Declarations) -> None:
    employer = Submitter("employeur", "employer", frozenset({AFFILIATION}))
    insured = declarations.declare()
    facts = filing.facts_or_refusal(declarations, employer, ask(insured).submission, date(2026, 11, 30))
    assert (facts["cin"], facts["job_loss_date"]) == ("AB123", date(2026, 11, 15))
    with pytest.raises(Refusal) as refused:
        filing.facts_or_refusal(declarations, employer, ask(insured, loss="x").submission, date(2026, 11, 30))
    assert refused.value.code == "invalid_date"
