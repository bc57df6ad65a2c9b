"""Notify and send (ipe_claims/application/notifying.py) on the library's in-memory store and fakes:
which messages a claim's events call for, exactly once, and how each delivery's outcome is recorded."""

from __future__ import annotations

import uuid
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

from ipe_claims.adapters.claim_messages import to_record
from ipe_claims.adapters.notification_store import StoredNotifications
from ipe_claims.application.claims import ClaimsApplication
from ipe_claims.application.clock import FixedClock
from ipe_claims.application.notifying import Notify, Send
from ipe_claims.application.ports import Email, Sms
from ipe_claims.domain.claim import Claim
from ipe_claims.domain.contributions import MonthlyDeclaration, months_before
from ipe_claims.domain.notification import Failure, Notification, RetryPolicy, delivery_id
from ipe_claims.domain.rules import ClaimFacts, decide
from services.notifier.messages import MessageRenderer
from tests.conftest import CLOCK
from tests.unit.fakes_notifying import FakeChannel, FakeContacts, FakeQueue

LOSS = date(2026, 3, 10)
RENDERER = MessageRenderer()
POLICY = RetryPolicy(base_seconds=10, cap_seconds=100, max_attempts=3)
ADDRESS, NUMBER = "fatima.alami@example.ma", "+212612345678"


def filed(app: ClaimsApplication, immatriculation: str = "100000001", months: int | None = None) -> Claim:
    """A claim in the store; decided on ``months`` of declarations when given."""
    claim = Claim.submit(
        uuid.uuid4(), affiliation_number="1234567", immatriculation=immatriculation, cin="BE1", nom="ALAMI",
        prenoms="Fatima", job_loss_date=LOSS, motif_code="licenciement_economique", attestation=True,
        filed_at=datetime(2026, 3, 12, 9, tzinfo=UTC), submitted_by="demo", channel="http",
    )  # fmt: skip
    if months is not None:
        history = [MonthlyDeclaration("1234567", m, 26, Decimal("4000")) for m in months_before(LOSS, months)]
        claim.decide(decide(ClaimFacts(LOSS, date(2026, 3, 12), claim.motif_code), history), "projector")
    app.save(claim)
    return claim


def events(app: ClaimsApplication, claim: Claim) -> list[tuple[str, dict[str, Any]]]:
    """The claim's events as the relay publishes them."""
    return [to_record(event) for event in app.events.get(claim.id)]


def notify(app: ClaimsApplication) -> Notify:
    return Notify(StoredNotifications(app), RENDERER, "ipe.test")


def test_a_submitted_claim_asks_one_deposit_message_per_channel_the_insured_has(
    app: ClaimsApplication,
) -> None:
    contacts, queue = FakeContacts(), FakeQueue()
    contacts.add("100000001", ADDRESS, NUMBER)
    contacts.add("100000002", None, NUMBER, "ar")
    both, sms_only, nobody = (filed(app, f"10000000{n}") for n in (1, 2, 3))

    done = notify(app)([e for claim in (both, sms_only, nobody) for e in events(app, claim)], contacts, queue)

    assert [(d.claim_id, d.kind, d.channels, d.new) for d in done] == [
        (both.id, "deposited", ["email", "sms"], True),
        (sms_only.id, "deposited", ["sms"], True),
        (nobody.id, "deposited", ["none"], True),
    ]
    stored = StoredNotifications(app).notifications(set(queue.rows))
    assert {(n.claim_id, n.channel, n.address, n.language, n.status) for n in stored.values()} == {
        (both.id, "email", ADDRESS, "fr", "pending"), (both.id, "sms", NUMBER, "fr", "pending"),
        (sms_only.id, "sms", NUMBER, "ar", "pending"), (nobody.id, "none", "", "fr", "undeliverable"),
    }  # fmt: skip
    assert {key: row.version for key, row in queue.rows.items()} == {n.id: n.version for n in stored.values()}
    message = queue.messages[done[0].event_id]
    assert message.fr.subject == "Votre demande d'indemnité pour perte d'emploi a été déposée"
    assert "Fatima ALAMI" in message.fr.body and "10/03/2026" in message.fr.body
    assert "1234567" in message.ar.body


def test_a_redelivered_event_asks_nothing_twice(app: ClaimsApplication) -> None:
    contacts, queue = FakeContacts(), FakeQueue()
    contacts.add("100000001", ADDRESS, NUMBER)
    claim = filed(app)
    first = notify(app)(events(app, claim), contacts, queue)
    rows = dict(queue.rows)

    again = notify(app)(events(app, claim) * 2, contacts, queue)  # redelivered, twice in one poll

    assert [d.new for d in first] == [True] and [d.new for d in again] == [False, False]
    assert queue.rows == rows and len(queue.messages) == 1
    assert [len(list(app.events.get(key))) for key in rows] == [1, 1]  # no second Requested


def test_a_lost_race_finds_the_winners_notifications(app: ClaimsApplication) -> None:
    """Another notifier saved the same event's Notifications between this one's read and its save."""
    contacts, queue = FakeContacts(), FakeQueue()
    contacts.add("100000001", ADDRESS, None)
    claim = filed(app)
    store = StoredNotifications(app)

    class Raced(StoredNotifications):
        def save_once(self, *notifications: Notification) -> bool:
            if not store.notifications([n.id for n in notifications]):
                notify(app)(events(app, claim), contacts, FakeQueue())  # the winner
            return super().save_once(*notifications)

    done = Notify(Raced(app), RENDERER, "ipe.test")(events(app, claim), contacts, queue)

    (key,) = queue.rows
    assert done[0].channels == ["email"] and key == delivery_id(done[0].event_id, "email")
    assert len(list(app.events.get(key))) == 1


def test_a_decision_asks_its_message_in_french_and_arabic(app: ClaimsApplication) -> None:
    contacts, queue = FakeContacts(), FakeQueue()
    contacts.add("100000001", ADDRESS, None, "ar")
    valid, rejected = filed(app, months=36), filed(app, "100000009", months=3)

    done = notify(app)(events(app, valid)[1:] + events(app, rejected)[1:], contacts, queue)

    assert [(d.kind, d.channels) for d in done] == [("valid", ["email"]), ("rejected", ["none"])]
    message = queue.messages[done[0].event_id]
    assert message.fr.subject.startswith("Votre demande d'indemnité pour perte d'emploi est acceptée")
    assert message.ar.subject.startswith("تم قبول طلب التعويض عن فقدان الشغل الخاص بكم")
    assert f"{valid.decision.monthly_amount} DH" in message.fr.body  # type: ignore[union-attr]
    assert "Fatima ALAMI" in message.ar.body
    assert queue.messages[done[1].event_id].kind == "rejected"


def sender(app: ClaimsApplication, clock: FixedClock, email: FakeChannel | None = None,
           sms: FakeChannel | None = None) -> Send:  # fmt: skip
    return Send(StoredNotifications(app), RENDERER, clock, POLICY, email=email, sms=sms, jitter=lambda: 0.0)


def queued(app: ClaimsApplication, email: str | None = ADDRESS, mobile: str | None = NUMBER) -> FakeQueue:
    contacts, queue = FakeContacts(), FakeQueue()
    contacts.add("100000001", email, mobile)
    notify(app)(events(app, filed(app)), contacts, queue)
    return queue


def test_each_channel_sends_its_layout_of_the_message_once(app: ClaimsApplication) -> None:
    queue, email, sms, clock = queued(app), FakeChannel(), FakeChannel(), FixedClock(CLOCK.now())
    send = sender(app, clock, email, sms)

    while send(queue):
        pass

    (letter,), (text,) = email.sent, sms.sent
    assert isinstance(letter, Email) and isinstance(text, Sms)
    assert letter.to == ADDRESS and letter.message_id.endswith("@ipe.test>") and not letter.possible_duplicate
    assert " / " in letter.subject and 'dir="rtl"' in letter.html
    assert text.to == NUMBER and text.idempotency_key == str(delivery_id(next(iter(queue.messages)), "sms"))
    assert {row.status for row in queue.rows.values()} == {"sent"}


def test_a_sender_without_a_channel_leaves_its_messages_waiting(app: ClaimsApplication) -> None:
    queue, email = queued(app), FakeChannel()
    send = sender(app, FixedClock(CLOCK.now()), email=email)
    assert send.channels == ["email"]
    while send(queue):
        pass
    assert sorted((row.channel, row.status) for row in queue.rows.values()) == [
        ("email", "sent"),
        ("sms", "pending"),
    ]


def test_a_failing_channel_is_retried_on_schedule_then_given_up_without_the_number(
    app: ClaimsApplication,
) -> None:
    queue, clock = queued(app, email=None), FixedClock(CLOCK.now())
    busy = Failure(f"gateway 503: {NUMBER} busy, write to ops@gateway.ma", permanent=False)
    sms = FakeChannel([busy] * 3)
    send = sender(app, clock, sms=sms)

    schedule = []
    for _ in range(POLICY.max_attempts - 1):
        attempted = send(queue)
        assert attempted is not None and attempted.attempted
        (row,) = queue.rows.values()
        assert row.status == "pending" and row.next_attempt_at is not None
        schedule.append(row.next_attempt_at - clock.now())
        assert send(queue) is None  # not due before its time
        clock.advance(row.next_attempt_at - clock.now())
    assert schedule == [timedelta(seconds=POLICY.delay(n, 0.0)) for n in (1, 2)] == [
        timedelta(seconds=5), timedelta(seconds=10)
    ]  # fmt: skip
    send(queue)

    (row,) = queue.rows.values()
    assert (row.status, row.attempts, row.next_attempt_at) == ("failed", 3, None)
    assert row.reason is not None and row.reason.startswith("gave up after 3 attempts: gateway 503")
    assert NUMBER not in row.reason and "612345678" not in row.reason and "ops@gateway.ma" not in row.reason
    assert len(sms.sent) == 3 and send(queue) is None


def test_a_permanent_refusal_is_not_retried_but_a_transient_fault_is(app: ClaimsApplication) -> None:
    queue, clock = queued(app), FixedClock(CLOCK.now())
    email = FakeChannel([Failure(f"recipient refused: 550 <{ADDRESS}> unknown", permanent=True)])
    sms = FakeChannel([Failure("gateway unreachable: ConnectError", permanent=False)])
    send = sender(app, clock, email, sms)
    while send(queue):
        pass

    rows = {row.channel: row for row in queue.rows.values()}
    assert (rows["email"].status, rows["email"].attempts, rows["email"].next_attempt_at) == (
        "failed",
        1,
        None,
    )
    assert rows["email"].reason == "recipient refused: 550 <<address>> unknown"
    assert (rows["sms"].status, rows["sms"].reason) == ("pending", "gateway unreachable: ConnectError")
    clock.advance(timedelta(seconds=POLICY.delay(1, 0.0)))
    while send(queue):
        pass
    assert (rows["email"].status, queue.rows[delivery_id(rows["sms"].event_id, "sms")].status) == (
        "failed",
        "sent",
    )
    assert len(email.sent) == 1 and len(sms.sent) == 2


def test_a_row_behind_the_store_is_brought_up_and_nothing_is_sent(app: ClaimsApplication) -> None:
    """Another writer's row went back to the requested state (a replay, a restored table): the sender
    takes it, finds the Notification sent in the store, and only rewrites the row."""
    queue, email, clock = queued(app, mobile=None), FakeChannel(), FixedClock(CLOCK.now())
    send = sender(app, clock, email=email)
    send(queue)
    (key,) = queue.rows
    sent = queue.rows[key]
    queue.rows[key] = replace(sent, status="pending", attempts=0, next_attempt_at=clock.now(), version=1)
    taken = send(queue)
    assert taken is not None and not taken.attempted and queue.rows[key] == sent
    assert len(email.sent) == 1  # sent once, before the row went back
