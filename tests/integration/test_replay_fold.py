"""The replay's fast paths equal the slow ones they replace.

- fold + COPY (ipe_claims/audit/fold.py) leaves the same rows in every read model (``claims``, and the
  payments and dossier tables its statements keep) as apply_event run event by event, on a mixed history in a shuffled global order, split into small pages, with redeliveries,
  stale versions, updates before their submission, events the projection ignores, and a second pass
  (a catch-up that overlaps what was applied);
- the store decoder (ipe_claims/audit/store_source.py) gives the relay's record of every claim event,
  and leaves the others (notifications) out.
"""

from __future__ import annotations

import random
import uuid
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any
from urllib.parse import urlsplit

import psycopg
import pytest
from eventsourcing.persistence import Notification as StoredNotification
from eventsourcing.utils import get_topic

from ipe_claims.adapters.claim_messages import RecordDecoder, to_record
from ipe_claims.adapters.event_store import make_app
from ipe_claims.application.claims import ClaimsApplication
from ipe_claims.application.dossier import dossier_facts, has_expired, reminder_due
from ipe_claims.audit import replay
from ipe_claims.audit.fold import fold
from ipe_claims.audit.replay import Record, Shadow, read_models, store_records
from ipe_claims.audit.store_source import claim_notifications
from ipe_claims.domain.claim import Claim
from ipe_claims.domain.contributions import MonthlyDeclaration, months_before
from ipe_claims.domain.lifecycle import AwaitedDeclaration, return_to_work
from ipe_claims.domain.notification import Notification
from ipe_claims.domain.review import ForceMajeure, decide_reviewed
from ipe_claims.domain.rib import rib_key
from ipe_claims.domain.rules import VALABLE, ClaimFacts, ruleset_for
from ipe_claims.settings import Settings

pytestmark = pytest.mark.integration

MOTIFS = ("licenciement_economique", "fin_cdd", "demission", "fermeture_entreprise")
PIECES = ("formulaire_demande", "copie_cin", "pv_inspection_travail", "rib", "attestation_anapec")
RIB = "0117800000123456789012" + rib_key("0117800000123456789012")


def _claim(rng: random.Random, n: int) -> Claim:
    # Losses on the 29th-31st make the benefit's end clamp to a month's end; filings just before
    # midnight UTC fall on the next Casablanca day.
    loss = date(2024, 1, 1) + timedelta(days=rng.randrange(600))
    if n % 4 == 0:
        loss = date(2025, rng.choice((1, 3, 5, 8, 10, 12)), 31)
    filed_at = datetime.combine(loss + timedelta(days=rng.randrange(1, 50)), datetime.min.time(), UTC)
    filed_at += timedelta(hours=23, minutes=rng.randrange(60), microseconds=rng.randrange(10**6))
    if n % 12 == 4:  # filed late: rejected, then excused for force majeure (along_a_path)
        filed_at += timedelta(days=70)
    return Claim.submit(
        uuid.uuid4(), affiliation_number=f"70{n % 7:05d}", immatriculation=f"{rng.randrange(10**9):09d}",
        cin=f"BK{n:06d}", nom="EL ALAMI\tO'NEIL", prenoms="Fatima-Zahra \\ \"Zizi\"", job_loss_date=loss,
        motif_code={6: "code_retire", 8: "autre"}.get(n % 12, MOTIFS[n % len(MOTIFS)]), attestation=True, filed_at=filed_at, submitted_by="employer",
        channel=rng.choice(("http", "kafka")),
    )  # fmt: skip


def _decide(claim: Claim, months: int) -> None:
    window = months_before(claim.job_loss_date, 36)[-months:]
    history = [MonthlyDeclaration(claim.affiliation_number, m, 26, Decimal("5123.45")) for m in window]
    facts = ClaimFacts(claim.job_loss_date, claim.filed_at.date(), claim.motif_code)
    if claim.motif_code == "autre":  # an agent rules first
        claim.rule_on_motif(months % 2 == 0, "vu le PV", agent="agent.a", agency="CASA-01", at=claim.filed_at)
    claim.decide(decide_reviewed(facts, history, motif_ruling=claim.motif_ruling), "rules")
    if claim.may_plead_force_majeure:
        plea = ForceMajeure("hospitalisation")
        again = decide_reviewed(facts, history, motif_ruling=claim.motif_ruling, force_majeure=plea)
        claim.grant_force_majeure(plea.reason, again, agent="agent.a", agency="CASA-01", decided_by="rules",
                                  at=claim.filed_at + timedelta(days=3))  # fmt: skip


def along_a_path(rng: random.Random, n: int) -> Claim:
    """A claim along one of the paths a claim takes, its events not yet saved."""
    claim = _claim(rng, n)
    path = n % 6
    if path in (3, 4):  # the decision waits for the affiliation's declaration of a month
        month = months_before(claim.job_loss_date, 1)[0]
        claim.await_declaration(
            AwaitedDeclaration(claim.affiliation_number, month, claim.job_loss_date + timedelta(20))
        )
        if path == 3:
            claim.record_wait_expired(claim.job_loss_date + timedelta(days=25))
    if path != 0 and n % 12 != 10:  # 0 stays "En cours", and so does a claim still waiting
        _decide(claim, 36 if path != 2 else 5)  # 2 is rejected: too few declared days
    decision = claim.decision
    if path == 5 and decision is not None and decision.situation == VALABLE and decision.duration_months:
        returned = return_to_work(claim.job_loss_date, decision.duration_months,
                                  claim.job_loss_date + timedelta(days=40), claim.job_loss_date + timedelta(days=38),
                                  ruleset_for(claim.job_loss_date))  # fmt: skip
        claim.return_to_work(returned, "employer")
    if path != 5:
        _dossier(claim, n)
    return claim


def _dossier(claim: Claim, n: int) -> None:
    """Pieces recorded (all, some, one refused then verified, or none), then the reminder the day before the
    deadline and the expiry, where they are due."""
    if claim.decision is None or claim.decision.situation != VALABLE:
        return
    at = claim.filed_at + timedelta(days=2)
    for i, kind in enumerate(PIECES[: (n // 6) % (len(PIECES) + 1)]):
        rib = RIB if kind == "rib" else None
        if i == 1 and n % 2:
            claim.record_document(
                kind, "refused", agent="agent.a", agency="CASA-01", at=at, reason="illisible"
            )
        status = "received" if n % 3 == 0 and i == 0 else "verified"
        claim.record_document(kind, status, agent="agent.b", agency="RABAT-02", at=at + timedelta(hours=i),
                              rib=rib, sha256=f"{n:064x}" if i == 2 else None)  # fmt: skip
    eve = datetime.combine(claim.dossier_deadline - timedelta(days=1), datetime.min.time(), UTC)
    if reminder_due(claim, eve.date()):
        claim.remind_dossier(dossier_facts(claim.motif_code, claim.document_records), at=eve)
    later = datetime.combine(claim.dossier_deadline + timedelta(days=1), datetime.min.time(), UTC)
    if has_expired(claim, later.date()):
        claim.expire_dossier(
            dossier_facts(claim.motif_code, claim.document_records), decided_by="p", at=later
        )


def history(rng: random.Random, n: int) -> list[Any]:
    return list(along_a_path(rng, n).collect_events())


def mixed_log(seed: int, claims: int) -> list[Record]:
    """Claims' events in a shuffled global order (each claim's own order kept), then what a real log
    or topic also holds: redeliveries, a stale version after a newer one, an update before its
    claim's submission, an event the projection does not know."""
    rng = random.Random(seed)
    streams = [[to_record(e) for e in history(rng, n)] for n in range(claims)]
    assert {name for s in streams for name, _ in s} == {
        "ClaimSubmitted", "ClaimDecided", "ClaimAwaitingDeclaration", "ClaimDeclarationWaitExpired",
        "ClaimReturnedToWork", "ClaimReviewRuled", "ClaimForceMajeureGranted", "ClaimDocumentRecorded",
        "ClaimDossierExpired", "ClaimDossierReminderDue",
    }  # fmt: skip
    log: list[Record] = []
    pending = [list(s) for s in streams]
    while pending:
        stream = rng.choice(pending)
        log.append(stream.pop(0))
        if not stream:
            pending.remove(stream)
    for _ in range(claims // 3):
        log.insert(rng.randrange(len(log)), rng.choice(log))  # redelivered somewhere else
    long = [s for s in streams if len(s) >= 3]
    log.append(long[0][1])  # a stale version after the newest
    early = long[1]
    log.insert(log.index(early[0]), early[2])  # an update before its claim's submission
    log.insert(rng.randrange(len(log)), ("ClaimArchived", dict(early[0][1], version=99)))
    return log


def positioned(records: list[Record]) -> Iterator[tuple[int, Record]]:
    return ((i + 1, record) for i, record in enumerate(records))


def rows(conn: psycopg.Connection[Any], schema: str, table: str = "claims") -> list[tuple[Any, ...]]:
    return conn.execute(f"SELECT * FROM {schema}.{table} ORDER BY 1, 2").fetchall()


@pytest.mark.parametrize("page", [1, 7, 1000])
def test_fold_and_copy_leave_the_rows_apply_claim_event_leaves(
    settings: Settings, monkeypatch: pytest.MonkeyPatch, page: int
) -> None:
    log = mixed_log(seed=page, claims=120)
    monkeypatch.setattr(replay, "PAGE", page)
    with (
        psycopg.connect(settings.database.url, autocommit=True) as a,
        psycopg.connect(settings.database.url, autocommit=True) as b,
        Shadow(a, read_models()) as statements,
        Shadow(b, read_models()) as folded,
    ):
        statements.foldable = False
        assert folded.foldable, "the fold should cover today's claims table"
        for shadow in (statements, folded):
            shadow.apply(positioned(log[: len(log) // 2]))
            shadow.apply(positioned(log[len(log) // 3 :]))  # a catch-up overlapping what was applied
        assert folded.folded > 0 and statements.folded == 0
        expected = rows(a, statements.schema)
        assert len(expected) == 120
        assert rows(a, folded.schema) == expected
        for table in read_models():
            assert rows(a, folded.schema, table) == rows(a, statements.schema, table), table
        dossiers = rows(a, statements.schema, "dossiers")
        assert len(dossiers) == sum(row[7] != "code_retire" for row in expected)  # a retired motif: none
        assert any(row[6] for row in dossiers) and any(row[8] for row in dossiers)  # complete, expired
        assert rows(a, statements.schema, "dossier_documents")
        situations = {row[11] for row in expected}
        assert situations == {"En cours", "Valable", "Rejeté"}
        assert any(row[22] for row in expected) and any(row[20] for row in expected)  # returned, awaiting


def test_fold_follows_the_projection_on_the_odd_cases() -> None:
    rng = random.Random(3)
    events = [to_record(e) for e in history(rng, 5)]
    assert [name for name, _ in events] == ["ClaimSubmitted", "ClaimDecided", "ClaimReturnedToWork"]
    submitted, decided, returned = events
    assert fold([decided, submitted]) == fold([submitted])  # update before the row
    assert fold([submitted, returned, decided]) == fold([submitted, returned])  # stale
    assert fold([decided, returned]) is None
    row = fold([*events, ("ClaimSubmitted", dict(submitted[1], nom="AUTRE"))])
    assert row is not None and row["nom"] == submitted[1]["nom"] and row["version"] == 3


@pytest.fixture(scope="module")
def own_store(settings: Settings) -> Iterator[ClaimsApplication]:
    """An event store in a database of its own on the harness's server: the claims saved here are not
    for the relay and the projector that other tests run on the shared store."""
    name = f"ipe_fold_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(settings.database.url, autocommit=True) as conn:
        conn.execute(f"CREATE DATABASE {name}")
    url = urlsplit(settings.database.url)._replace(path=f"/{name}").geturl()
    app = make_app(settings.changed(database={"url": url}), create_tables=True)
    try:
        yield app
    finally:
        app.close()
        with psycopg.connect(settings.database.url, autocommit=True) as conn:
            conn.execute(f"DROP DATABASE {name} WITH (FORCE)")


@pytest.fixture(scope="module")
def stored(own_store: ClaimsApplication) -> dict[uuid.UUID, int]:
    """Claims along every path and a notification for each; each claim's number of events."""
    rng = random.Random(11)
    events = {}
    for n in range(30):
        claim = along_a_path(rng, n)
        events[claim.id] = claim.version
        note = Notification.request(uuid.uuid4(), claim.id, "deposited", "none", "", "fr", "cnss.ma")
        own_store.save(claim, note)
    return events


def test_the_store_decoder_gives_the_relays_record_of_each_claim_event(
    own_store: ClaimsApplication, stored: dict[uuid.UUID, int]
) -> None:
    head = own_store.recorder.max_notification_id() or 0
    decoder = RecordDecoder(own_store)
    seen = 0
    for page in claim_notifications(own_store, 0, head):
        for notification in page:
            name, record = to_record(own_store.to_event(notification))  # raises for a non-claim event
            del record["event_id"]
            assert decoder.record(notification) == (name, record)
            seen += 1
    assert seen == sum(stored.values()) and seen > 2 * len(stored)
    replayed = list(store_records(own_store, 0, head))
    assert [p for p, _ in replayed] == sorted(p for p, _ in replayed) and len(replayed) == seen
    assert {record["claim_id"] for _, (_, record) in replayed} == {str(c) for c in stored}
    assert len(replayed) < head  # the notifications' events were in the log, and were left out


def test_a_state_the_fast_path_cannot_read_goes_through_the_mapper(own_store: ClaimsApplication) -> None:
    """A transcoded value below the top level (here a date inside the decision) is left to the mapper."""
    claim_id = uuid.uuid4()
    decision: dict[str, Any] = {"situation": "Rejeté", "ruleset_version": "x", "outcomes": [], "rejection_code": "c",
                "rejection_reason_fr": "fr", "rejection_reason_ar": "ar", "monthly_amount": None,
                "duration_months": None, "seen_on": date(2025, 2, 3)}  # fmt: skip
    state = own_store.mapper.transcoder.encode(
        {"timestamp": datetime(2025, 2, 3, 23, 30, tzinfo=UTC), "decision": decision, "decided_by": "rules"}
    )
    notification = StoredNotification(
        id=1, originator_id=claim_id, originator_version=2, topic=get_topic(Claim.Decided), state=state
    )
    name, record = RecordDecoder(own_store).record(notification)
    assert name == "ClaimDecided" and record["seen_on"] == date(2025, 2, 3)
    assert record["claim_id"] == str(claim_id) and "event_id" not in record
