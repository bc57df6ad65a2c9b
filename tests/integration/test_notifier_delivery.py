"""Messages to the insured through the real pipeline (store → relay → Kafka → notifier) and the real
sender, to a real SMTP server and a real HTTP SMS gateway stub on local ports."""

from __future__ import annotations

import threading
import uuid
from collections.abc import Iterator
from datetime import timedelta
from decimal import Decimal
from typing import Any

import psycopg
import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from ipe_claims.adapters import contacts, delivery_log
from ipe_claims.adapters.accounts import create_account
from ipe_claims.adapters.smtp import SmtpConfig
from ipe_claims.application.claims import ClaimsApplication
from ipe_claims.domain.notification import Notification, RetryPolicy, delivery_id
from ipe_claims.settings import Settings
from services.claim_intake.api import create_app
from services.notifier.config import NotifierConfig
from services.notifier.messages import MessageRenderer
from services.notifier.projection import DeliveryProjection
from services.notifier.sender import Sender
from tests.conftest import CLOCK, TODAY, Insured, declare, random_digits, wait_for
from tests.integration.conftest import Pipeline
from tests.integration.test_notifier_stubs import SmsGatewayStub, SmtpSink

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def smtp() -> Iterator[SmtpSink]:
    sink = SmtpSink().start()
    yield sink
    sink.stop()


@pytest.fixture(scope="module")
def gateway() -> Iterator[SmsGatewayStub]:
    stub = SmsGatewayStub().start()
    yield stub
    stub.stop()


@pytest.fixture(scope="module")
def sender(
    settings: Settings, claims_app: ClaimsApplication, smtp: SmtpSink, gateway: SmsGatewayStub
) -> Iterator[Sender]:
    config = NotifierConfig(
        smtp=SmtpConfig("127.0.0.1", smtp.port, security="none", timeout=5),
        sms_url=gateway.url, sms_token=gateway.token, send_timeout=5,
        policy=RetryPolicy(base_seconds=0.2, cap_seconds=1.0, max_attempts=50),
    )  # fmt: skip
    sending = Sender(settings, claims_app, MessageRenderer(), config, poll_seconds=0.05)
    stop = threading.Event()
    thread = threading.Thread(target=sending.run, args=(stop,), daemon=True)
    thread.start()
    yield sending
    stop.set()
    thread.join(timeout=15)


def worker(conn: psycopg.Connection[Any], months: int = 40, language: str = "fr", email: bool = True,
           mobile: bool = True) -> tuple[Insured, str, str]:  # fmt: skip
    insured = declare(conn, months=months, salary=Decimal("4000.00"))
    address = f"w{insured.immatriculation}@example.ma"
    number = f"+2126{random_digits(8)}"
    contacts.load(conn, [contacts.Contact(insured.immatriculation, address if email else None,
                                          number if mobile else None, language)])  # fmt: skip
    return insured, address, number


def submit(app: ClaimsApplication, insured: Insured) -> uuid.UUID:
    return app.submit(
        uuid.uuid4(), filed_at=CLOCK.now(), submitted_by="test", channel="http",
        affiliation_number=insured.affiliation_number, immatriculation=insured.immatriculation,
        cin=insured.cin, nom=insured.nom, prenoms=insured.prenoms,
        job_loss_date=TODAY - timedelta(days=5), motif_code="licenciement_economique", attestation=True,
    ).id  # fmt: skip


def rows(conn: psycopg.Connection[Any], claim_id: uuid.UUID) -> list[tuple[Any, ...]]:
    return conn.execute(
        "SELECT kind, channel, status, attempts, possible_duplicates, message_id, reason FROM deliveries "
        "WHERE claim_id = %s ORDER BY requested_at, channel",
        (claim_id,),
    ).fetchall()


def settled(conn: psycopg.Connection[Any], claim_id: uuid.UUID, count: int) -> list[tuple[Any, ...]] | None:
    found = rows(conn, claim_id)
    return found if len(found) == count and all(row[2] != "pending" for row in found) else None


def test_a_valid_claim_reaches_the_worker_by_email_and_sms_once_each(
    pipeline: Pipeline, sender: Sender, claims_app: ClaimsApplication, conn: psycopg.Connection[Any],
    smtp: SmtpSink, gateway: SmsGatewayStub, settings: Settings,
) -> None:  # fmt: skip
    insured, address, number = worker(conn, language="ar")
    claim_id = submit(claims_app, insured)
    found = wait_for(lambda: settled(conn, claim_id, 4), what="four messages sent")
    assert [(kind, channel, status, attempts) for kind, channel, status, attempts, *_ in found] == [
        ("deposited", "email", "sent", 1), ("deposited", "sms", "sent", 1),
        ("valid", "email", "sent", 1), ("valid", "sms", "sent", 1),
    ]  # fmt: skip
    emails = smtp.received(address)
    assert sorted(str(m["Message-ID"]) for m in emails) == sorted(
        row[5] for row in found if row[1] == "email"
    )
    valid = next(m for m in emails if "2800.00" in m.get_body(("plain",)).get_content())  # type: ignore[union-attr]
    html = valid.get_body(("html",)).get_content()  # type: ignore[union-attr]
    assert '<html lang="ar" dir="rtl">' in html and '<div lang="fr" dir="ltr"' in html
    assert "ANAPEC" in html and "2800.00" in html
    texts = [sms["text"] for sms in gateway.to(number)]
    assert len(texts) == 2 and all(any("\u0600" <= c <= "\u06ff" for c in t) for t in texts)
    assert all(str(claim_id)[:8] in text for text in texts)

    account = f"employer-{random_digits(9)}"
    create_account(conn, account, "correct horse battery", "employer", [insured.affiliation_number])
    with TestClient(create_app(settings, claims_app)) as client:
        token = client.post(
            "/api/v1/auth/token", json={"username": account, "password": "correct horse battery"}
        )
        listed = client.get(f"/api/v1/claims/{claim_id}/notifications",
                            headers={"Authorization": f"Bearer {token.json()['access_token']}"}).json()  # fmt: skip
    assert [(n["kind"], n["channel"], n["status"], n["attempts"]) for n in listed] == [
        (kind, channel, status, attempts) for kind, channel, status, attempts, *_ in found
    ]
    assert all(n["sent_at"] and n["requested_at"] and n["message_id"] for n in listed)
    assert address not in str(listed) and number not in str(listed)  # the employer never sees them


def test_without_a_contact_each_message_is_undeliverable_on_channel_none(
    pipeline: Pipeline, sender: Sender, claims_app: ClaimsApplication, conn: psycopg.Connection[Any]
) -> None:
    claim_id = submit(claims_app, declare(conn, months=40))
    found = wait_for(lambda: settled(conn, claim_id, 2), what="two messages recorded")
    assert [row[:4] for row in found] == [("deposited", "none", "undeliverable", 0),
                                          ("valid", "none", "undeliverable", 0)]  # fmt: skip
    assert {row[6] for row in found} == {"no_contact"}


def test_transient_failures_are_retried_until_delivered(
    pipeline: Pipeline, sender: Sender, claims_app: ClaimsApplication, conn: psycopg.Connection[Any],
    smtp: SmtpSink, gateway: SmsGatewayStub,
) -> None:  # fmt: skip
    insured, address, number = worker(conn)
    gateway.fail_next[number] = 3
    smtp.stop()  # connections refused
    try:
        claim_id = submit(claims_app, insured)
        wait_for(lambda: (rows(conn, claim_id) and all(r[3] >= 2 for r in rows(conn, claim_id) if r[1] == "email")
                          and len(rows(conn, claim_id)) == 4) or None, what="failed email attempts")  # fmt: skip
    finally:
        smtp.start()
    found = wait_for(lambda: settled(conn, claim_id, 4), what="every message sent after the outage")
    assert {row[2] for row in found} == {"sent"}
    assert sum(row[3] for row in found if row[1] == "sms") >= 5  # 3 refusals spread over two messages
    assert len(gateway.to(number)) == 2 and len(smtp.received(address)) == 2


def test_permanent_failures_are_recorded_with_their_reason_and_never_retried(
    pipeline: Pipeline, sender: Sender, claims_app: ClaimsApplication, conn: psycopg.Connection[Any],
    gateway: SmsGatewayStub,
) -> None:  # fmt: skip
    insured = declare(conn, months=40)
    number = f"+2126{random_digits(8)}"
    gateway.invalid.add(number)
    contacts.load(conn, [contacts.Contact(insured.immatriculation, f"refuse{random_digits(6)}@example.ma",
                                          number, "fr")])  # fmt: skip
    requests_before = gateway.requests
    claim_id = submit(claims_app, insured)
    found = wait_for(lambda: settled(conn, claim_id, 4), what="four final failures")
    assert {(row[1], row[2], row[3]) for row in found} == {("email", "failed", 1), ("sms", "failed", 1)}
    assert all("550" in row[6] for row in found if row[1] == "email")
    assert all("gateway 400" in row[6] for row in found if row[1] == "sms")
    assert "@" not in "".join(row[6] for row in found)  # the address is not echoed in the log
    assert gateway.requests - requests_before == 2


def test_an_attempt_cut_short_by_a_crash_is_resent_with_the_same_message_id_and_marked(
    pipeline: Pipeline, sender: Sender, claims_app: ClaimsApplication, conn: psycopg.Connection[Any],
    smtp: SmtpSink, gateway: SmsGatewayStub,
) -> None:  # fmt: skip
    insured, address, _ = worker(conn)
    smtp.stop()  # hold the messages while the "crash" is staged
    try:
        claim_id = submit(claims_app, insured)
        wait_for(lambda: len(rows(conn, claim_id)) == 4 or None, what="four messages requested")
        event_id = conn.execute("SELECT event_id FROM deliveries WHERE claim_id = %s AND kind = 'deposited' "
                                "LIMIT 1", (claim_id,)).fetchone()[0]  # fmt: skip
        with conn.transaction():  # take the email's row lock, as a sender does, and die mid-send
            conn.execute("SELECT 1 FROM deliveries WHERE delivery_id = %s FOR UPDATE",
                         (delivery_id(event_id, "email"),))  # fmt: skip
            cut = claims_app.repository.get(delivery_id(event_id, "email"))
            assert isinstance(cut, Notification)
            cut.attempt()
            claims_app.save(cut)
    finally:
        smtp.start()
    found = wait_for(lambda: settled(conn, claim_id, 4), what="every message sent")
    email_row = next(r for r in found if r[0] == "deposited" and r[1] == "email")
    assert email_row[2] == "sent" and email_row[4] == 1  # marked as a possible duplicate in the log
    (received,) = [m for m in smtp.received(address) if str(m["Message-ID"]) == email_row[5]]
    assert received["X-IPE-Possible-Duplicate"] == "yes"
    history = [type(e).__name__ for e in claims_app.events.get(delivery_id(event_id, "email"))]
    assert history.count("Attempted") >= 2 and history[-1] == "Sent"


def test_a_replay_of_the_store_rebuilds_the_delivery_log_exactly(
    pipeline: Pipeline, sender: Sender, claims_app: ClaimsApplication, conn: psycopg.Connection[Any],
    settings: Settings,
) -> None:  # fmt: skip
    insured, _, _ = worker(conn, mobile=False)
    claim_id = submit(claims_app, insured)
    wait_for(lambda: settled(conn, claim_id, 2), what="two emails sent")
    columns = (
        "delivery_id, kind, channel, status, attempts, message_id, reason, requested_at, sent_at, version"
    )
    before = conn.execute(
        f"SELECT {columns} FROM deliveries WHERE claim_id = %s ORDER BY 1", (claim_id,)
    ).fetchall()
    conn.execute("DELETE FROM deliveries WHERE claim_id = %s", (claim_id,))
    replay = DeliveryProjection(settings, claims_app, name=f"replay-{uuid.uuid4()}")
    while replay.catch_up(conn):
        pass
    after = conn.execute(
        f"SELECT {columns} FROM deliveries WHERE claim_id = %s ORDER BY 1", (claim_id,)
    ).fetchall()
    assert after == before and len(after) == 2


def test_the_relay_reads_claim_events_only(
    claims_app: ClaimsApplication, conn: psycopg.Connection[Any]
) -> None:
    assert conn.execute("SELECT count(*) FROM ipe_events WHERE topic = ANY(%s)",
                        (list(delivery_log.NOTIFICATION_TOPICS),)).fetchone()[0] > 0  # fmt: skip
    topics = {n.topic for n in claims_app.claim_notifications(0, 100_000)}
    assert topics and not topics & set(delivery_log.NOTIFICATION_TOPICS)


def test_contacts_load_from_csv_and_refuse_a_bad_file(
    settings: Settings, conn: psycopg.Connection[Any], tmp_path: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    from ipe_claims.entrypoints.cli import app

    monkeypatch.setenv("DATABASE_URL", settings.database.url)
    first, second = random_digits(9), random_digits(9)
    good = tmp_path / "contacts.csv"
    good.write_text(f"immatriculation,email,mobile,language\n{first},a{first}@example.ma,06 12 34 56 78,ar\n"
                    f"{second},,+212 7 11 22 33 44,\n")  # fmt: skip
    result = CliRunner().invoke(app, ["contacts", "load", str(good)])
    assert result.exit_code == 0 and "Loaded 2 contacts" in result.output
    assert contacts.find(conn, first) == contacts.Contact(
        first, f"a{first}@example.ma", "+212612345678", "ar"
    )
    assert contacts.find(conn, second) == contacts.Contact(second, None, "+212711223344", "fr")
    third = random_digits(9)
    bad = tmp_path / "bad.csv"
    bad.write_text(
        f"immatriculation,email,mobile,language\n{third},ok@example.ma,,fr\n{third},not-an-email,,fr\n"
    )
    result = CliRunner().invoke(app, ["contacts", "load", str(bad)])
    assert result.exit_code == 1 and "line 3, email" in result.output
    assert contacts.find(conn, third) is None  # nothing of a bad file is loaded
