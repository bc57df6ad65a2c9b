"""The notifier SIGKILLed three times while claims are decided and the SMTP server refuses connections
for a while: every worker still gets each message, in both languages; SMS exactly once; an email twice
only after a kill, with the same Message-ID, and marked in the delivery log."""

from __future__ import annotations

import csv
import os
import random
import shutil
import signal
import threading
import time
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import psycopg
import pytest

from ipe_claims.operations.local import free_port
from tests.conftest import TODAY, random_digits, wait_for, write_declarations_csv
from tests.e2e.test_system import System
from tests.integration.test_notifier_stubs import SmsGatewayStub, SmtpSink

pytestmark = pytest.mark.e2e
CLAIMS = 300
KILLS = 3


@pytest.fixture(scope="module")
def servers() -> Iterator[tuple[SmtpSink, SmsGatewayStub]]:
    smtp, gateway = SmtpSink().start(), SmsGatewayStub().start()
    yield smtp, gateway
    smtp.stop()
    gateway.stop()


@pytest.fixture(scope="module")
def system(
    tmp_path_factory: pytest.TempPathFactory, servers: tuple[SmtpSink, SmsGatewayStub]
) -> Iterator[System]:
    smtp, gateway = servers
    home = tmp_path_factory.mktemp("notifier-crash") / "ipe"
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "KAFKA_BOOTSTRAP_SERVERS")}
    env |= {
        "IPE_HOME": str(home), "IPE_HTTP_PORT": str(free_port()), "IPE_PG_PORT": str(free_port()),
        "IPE_KAFKA_PORT": str(free_port()), "IPE_SMTP_HOST": "127.0.0.1", "IPE_SMTP_PORT": str(smtp.port),
        "IPE_SMTP_SECURITY": "none", "IPE_SMS_URL": gateway.url, "IPE_SMS_TOKEN": gateway.token,
        "IPE_NOTIFY_RETRY_BASE_SECONDS": "0.2", "IPE_NOTIFY_RETRY_CAP_SECONDS": "2",
        "IPE_NOTIFY_MAX_ATTEMPTS": "1000", "IPE_NOTIFY_TIMEOUT_SECONDS": "5",
    }  # fmt: skip
    started = System(env, home)
    up = started.ipe("up", "--detach", "--broker", "embedded")  # the PyPI-only path's end-to-end smoke
    assert up.returncode == 0, up.stdout + up.stderr
    try:
        yield started
    finally:
        state = started.status()
        started.ipe("down")
        shutil.rmtree(state["postgres"]["data_dir"], ignore_errors=True)


def _files(tmp_path: Path, affiliation: str, insured: list[str]) -> tuple[Path, Path]:
    declarations, contacts = tmp_path / "declarations.csv", tmp_path / "contacts.csv"
    write_declarations_csv(declarations, affiliation, insured)
    with contacts.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["immatriculation", "email", "mobile", "language"])
        for i, number in enumerate(insured):
            writer.writerow([number, f"w{number}@example.ma", f"+2126{number[-8:]}", "ar" if i % 2 else "fr"])
    return declarations, contacts


def test_notifier_killed_and_smtp_down_every_worker_gets_every_message(
    system: System, servers: tuple[SmtpSink, SmsGatewayStub], tmp_path: Path
) -> None:
    smtp, gateway = servers
    affiliation = random_digits(7)
    insured = [random_digits(9) for _ in range(CLAIMS)]
    declarations, contacts = _files(tmp_path, affiliation, insured)
    for command in (("declarations", "load", str(declarations)), ("contacts", "load", str(contacts))):
        loaded = system.ipe(*command)
        assert loaded.returncode == 0, loaded.stdout + loaded.stderr
    headers = system.new_employer(affiliation)
    url = system.url

    claim_ids: list[str] = []

    def submit_all() -> None:
        for number in insured:
            body = {"affiliation_number": affiliation, "immatriculation": number, "attestation": True,
                    "motif_code": "licenciement_economique",
                    "job_loss_date": (TODAY - timedelta(days=3)).isoformat()}  # fmt: skip
            response = httpx.post(f"{url}/api/v1/claims", json=body, headers=headers, timeout=30)
            assert response.status_code == 201, response.text
            claim_ids.append(response.json()["claim_id"])

    submitter = threading.Thread(target=submit_all)
    submitter.start()
    wait_for(lambda: len(claim_ids) >= 10 or None, what="claims under way")
    smtp.stop()  # the SMTP server refuses connections for a while
    rng = random.Random()
    for kill in range(KILLS):
        time.sleep(rng.uniform(0.2, 2.5))
        if kill == 1:
            smtp.start()
        pid = system.status()["services"]["notifier"]["pid"]
        os.kill(pid, signal.SIGKILL)
        wait_for(lambda kill=kill: system.status()["services"]["notifier"]["restarts"] >= kill + 1 or None,
                 timeout=60, what="the supervisor restarting the notifier")  # fmt: skip
        wait_for(lambda: system.status()["services"]["notifier"]["state"] == "running" or None, timeout=60,
                 what="the notifier running again")  # fmt: skip
    submitter.join(timeout=180)
    assert len(claim_ids) == CLAIMS

    with psycopg.connect(system.status()["database_url"], autocommit=True) as conn:

        def deliveries() -> list[tuple[Any, ...]] | None:
            found = conn.execute(
                "SELECT claim_id::text, kind, channel, status, message_id, possible_duplicates, attempts "
                "FROM deliveries WHERE claim_id = ANY(%s::uuid[])", (claim_ids,),
            ).fetchall()  # fmt: skip
            done = len(found) == 4 * CLAIMS and all(row[3] != "pending" for row in found)
            return found if done else None

        found = wait_for(deliveries, timeout=240, what="every message settled")
    assert {row[3] for row in found} == {"sent"}
    per_claim: dict[str, set[tuple[str, str]]] = {}
    for claim_id, kind, channel, *_ in found:
        per_claim.setdefault(claim_id, set()).add((kind, channel))
    assert all(
        len(pairs) == 4 and {k for k, _ in pairs} == {"deposited", "valid"} for pairs in per_claim.values()
    )

    emails = {row[4]: row for row in found if row[2] == "email"}
    received = smtp.message_ids()
    assert set(emails) <= set(received), "an email was never received"
    for message in smtp.received():
        if str(message["Message-ID"]) in emails:
            text = message.get_body(("plain",)).get_content()  # type: ignore[union-attr]
            assert "Votre demande" in text and any("\u0600" <= c <= "\u06ff" for c in text)  # both languages
    duplicated = {mid: count for mid, count in received.items() if mid in emails and count > 1}
    assert sum(count - 1 for count in duplicated.values()) <= KILLS
    assert all(emails[mid][5] >= 1 for mid in duplicated), "a duplicate email that the log does not mark"

    sms_keys = {row[4] for row in found if row[2] == "sms"}
    assert set(gateway.sent) == sms_keys and len(sms_keys) == 2 * CLAIMS  # each SMS sent exactly once
    retried = sum(row[6] for row in found) - len(found)
    print(f"\nnotifier crash: {len(found)} messages, {retried} retried attempts, "
          f"{sum(c - 1 for c in duplicated.values())} duplicate emails (marked), "
          f"{gateway.requests} gateway requests for {len(gateway.sent)} SMS")  # fmt: skip
    assert retried > 0  # the SMTP outage was felt
