"""The whole system as a user runs it: `ipe up --detach`, HTTP, the CLI, a crash, `ipe down`."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from functools import cached_property
from pathlib import Path
from typing import Any

import httpx
import psycopg
import pytest

from ipe_claims.operations.local import LocalBroker, LocalPostgres, free_port
from ipe_claims.operations.supervisor import SERVICES, pid_alive
from tests.conftest import TODAY, random_digits, test_broker, wait_for, write_declarations_csv

pytestmark = pytest.mark.e2e
IPE = [sys.executable, "-m", "ipe_claims.entrypoints.cli"]


@dataclass
class System:
    env: dict[str, str]
    home: Path

    def ipe(self, *args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([*IPE, *args], env=self.env, capture_output=True, text=True, timeout=240)

    def status(self) -> dict[str, Any]:
        return json.loads(self.ipe("status", "--json").stdout)  # type: ignore[no-any-return]

    @cached_property
    def url(self) -> str:
        """The API's URL, read from `ipe status` once: its port is the system's for its whole life (the
        supervisor restarts the API on it), and each `ipe status` is a CLI process of about a second."""
        return str(self.status()["http_url"])

    def new_employer(self, affiliation: str) -> dict[str, str]:
        """An employer account made with `ipe accounts create`, logged in: its Authorization header."""
        username = f"emp{random_digits(6)}"
        created = self.ipe("accounts", "create", "--username", username, "--password", "s3cret-pass",
                           "--affiliation", affiliation)  # fmt: skip
        assert created.returncode == 0, created.stdout + created.stderr
        return self.token(username, "s3cret-pass")

    def token(self, username: str, password: str) -> dict[str, str]:
        response = httpx.post(
            f"{self.url}/api/v1/auth/token", json={"username": username, "password": password}
        )
        response.raise_for_status()
        return {"Authorization": f"Bearer {response.json()['access_token']}"}


@pytest.fixture(scope="module")
def system(tmp_path_factory: pytest.TempPathFactory) -> Iterator[System]:
    home = tmp_path_factory.mktemp("e2e") / "ipe"
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "KAFKA_BOOTSTRAP_SERVERS")}
    env |= {"IPE_HOME": str(home), "IPE_HTTP_PORT": str(free_port()), "IPE_PG_PORT": str(free_port()),
            "IPE_KAFKA_PORT": str(free_port())}  # fmt: skip
    started = System(env, home)
    up = started.ipe("up", "--detach", "--broker", test_broker()[0])  # the harness's broker
    assert up.returncode == 0, up.stdout + up.stderr
    assert "demo" in up.stdout and "/api/v1/claims" in up.stdout  # what to try next
    try:
        yield started
    finally:
        before = started.status()
        down = started.ipe("down")
        assert down.returncode == 0, down.stderr
        pids = [before["supervisor_pid"], before["postgres"]["pid"], before["broker"]["pid"]]
        pids += [process["pid"] for process in [*before["services"].values(), *before["brokers"]]]
        assert not [pid for pid in pids if pid_alive(pid)], "ipe down left processes behind"
        shutil.rmtree(before["postgres"]["data_dir"], ignore_errors=True)


def test_status_reports_every_component(system: System) -> None:
    status = system.status()
    assert status["http_url"].startswith("http://127.0.0.1:")
    assert status["database_url"].startswith("postgresql://")
    assert status["kafka_bootstrap_servers"] == ",".join(b["address"] for b in status["brokers"])
    assert status["broker"]["kind"] == test_broker()[0]
    assert [(b["id"], b["state"]) for b in status["brokers"]] == [(1, "running")] and pid_alive(
        status["brokers"][0]["pid"]
    )
    assert set(status["services"]) == set(SERVICES) >= {"api", "relay", "projector", "notifier"}
    for service in status["services"].values():
        assert service["state"] == "running" and pid_alive(service["pid"]) and service["restarts"] == 0
    assert httpx.get(f"{system.url}/healthz").status_code == 200


def _claim(system: System, headers: dict[str, str], affiliation: str, immatriculation: str,
           motif: str = "licenciement_economique") -> httpx.Response:  # fmt: skip
    body = {"affiliation_number": affiliation, "immatriculation": immatriculation, "motif_code": motif,
            "job_loss_date": (TODAY - timedelta(days=3)).isoformat(), "attestation": True}  # fmt: skip
    return httpx.post(f"{system.url}/api/v1/claims", json=body, headers=headers, timeout=30)


def _decided(system: System, headers: dict[str, str], claim_id: str) -> dict[str, Any] | None:
    row = httpx.get(f"{system.url}/api/v1/claims/{claim_id}", headers=headers).json()
    return row if row["situation"] != "En cours" else None


def test_demo_claims_over_http_are_decided_and_notified(system: System) -> None:
    headers = system.token("demo", "demo-ipe-2026")
    valid = _claim(system, headers, "1234567", "100000001")
    rejected = _claim(system, headers, "1234567", "100000003")
    assert valid.status_code == rejected.status_code == 201
    assert valid.json()["situation"] == "En cours"

    row = wait_for(lambda: _decided(system, headers, valid.json()["claim_id"]), what="the valid decision")
    assert (row["situation"], row["monthly_amount"], row["duration_months"]) == ("Valable", 2800.0, 6)
    raw = httpx.get(f"{system.url}/api/v1/claims/{valid.json()['claim_id']}", headers=headers).text
    assert '"monthly_amount": 2800.00' in raw  # a JSON number that keeps its centimes
    row = wait_for(lambda: _decided(system, headers, rejected.json()["claim_id"]), what="the rejection")
    assert (row["situation"], row["rejection_code"]) == ("Rejeté", "insufficient_days_36")
    assert "780" in row["rejection_reason"]

    def kinds(claim_id: str) -> list[str] | None:
        found = httpx.get(f"{system.url}/api/v1/claims/{claim_id}/notifications", headers=headers).json()
        return [n["kind"] for n in found] if len(found) == 2 else None

    assert wait_for(lambda: kinds(valid.json()["claim_id"]), what="notifications") == ["deposited", "valid"]
    assert wait_for(lambda: kinds(rejected.json()["claim_id"]), what="notifications") == [
        "deposited",
        "rejected",
    ]


def test_projector_killed_mid_stream_decides_every_claim_exactly_once(system: System, tmp_path: Path) -> None:
    affiliation = random_digits(7)
    insured = [random_digits(9) for _ in range(60)]
    declarations = write_declarations_csv(tmp_path / "declarations.csv", affiliation, insured)
    loaded = system.ipe("declarations", "load", str(declarations))
    assert loaded.returncode == 0, loaded.stdout + loaded.stderr
    headers = system.new_employer(affiliation)

    claim_ids: list[str] = []

    def submit_all() -> None:
        for number in insured:
            response = _claim(system, headers, affiliation, number)
            assert response.status_code == 201, response.text
            claim_ids.append(response.json()["claim_id"])

    projector_pid = system.status()["services"]["projector"]["pid"]
    submitter = threading.Thread(target=submit_all)
    submitter.start()
    wait_for(lambda: len(claim_ids) >= 15 or None, what="a stream of claims under way")
    os.kill(projector_pid, signal.SIGKILL)
    submitted_at_kill = len(claim_ids)
    submitter.join(timeout=120)
    assert submitted_at_kill < len(insured), "the projector was killed after the last claim was filed"
    assert len(claim_ids) == len(insured)

    wait_for(lambda: system.status()["services"]["projector"]["restarts"] >= 1 or None, what="a restart")
    for claim_id in claim_ids:
        wait_for(
            lambda claim_id=claim_id: _decided(system, headers, claim_id), timeout=90, what="every decision"
        )

    with psycopg.connect(system.status()["database_url"]) as conn:
        decisions = conn.execute(
            "SELECT originator_id::text, count(*) FROM ipe_events WHERE originator_id = ANY(%s::uuid[]) "
            "AND topic LIKE %s GROUP BY originator_id",
            (claim_ids, "%Decided"),
        ).fetchall()
        assert sorted(decisions) == sorted((claim_id, 1) for claim_id in claim_ids)
        wait_for(
            lambda: (
                conn.execute(
                    "SELECT count(*) FROM notifications WHERE claim_id = ANY(%s::uuid[])", (claim_ids,)
                ).fetchone()[0]
                == 2 * len(claim_ids)
                or None
            ),
            what="two notifications per claim",
        )
        per_claim = conn.execute(
            "SELECT count(*), count(DISTINCT kind) FROM notifications WHERE claim_id = ANY(%s::uuid[]) "
            "GROUP BY claim_id",
            (claim_ids,),
        ).fetchall()
        assert set(per_claim) == {(2, 2)}
    assert system.status()["services"]["projector"]["state"] == "running"


def test_logs_hold_no_names_cin_or_salaries(system: System) -> None:
    headers = system.token("demo", "demo-ipe-2026")
    response = _claim(system, headers, "2345678", "100000004")
    assert response.status_code == 201
    wait_for(lambda: _decided(system, headers, response.json()["claim_id"]), what="the decision")
    logs = "".join(path.read_text(errors="replace") for path in (system.home / "logs").glob("*.log"))
    assert "claim.decided" in logs and response.json()["claim_id"] in logs  # the logs do speak of claims
    for secret in ("DAOUDI", "Karim", "BE100004", "ALAMI", "Fatima", "BE100001", "5200.00", "4000.00"):
        assert secret not in logs


def test_up_uses_existing_servers_when_the_environment_names_them(tmp_path: Path) -> None:
    # Servers of its own: the local broker can leave a consumer group stuck when members leave while it
    # is still forming, so this test must not share groups with the harness's pipeline.
    servers = tmp_path / "servers"
    postgres, broker = LocalPostgres(servers, free_port()), LocalBroker(servers, free_port())
    postgres.start()
    broker.start()
    # Short group timeouts, as the harness's: on the embedded broker a member still joining its group when
    # `ipe down` comes is only killed at the supervisor's 15 s deadline, and this test brings it down at once.
    env = {k: v for k, v in os.environ.items()} | {
        "IPE_HOME": str(tmp_path / "prod-like"), "IPE_HTTP_PORT": str(free_port()),
        "DATABASE_URL": postgres.url, "KAFKA_BOOTSTRAP_SERVERS": broker.bootstrap_servers,
        "IPE_KAFKA_FAST_GROUPS": "1",
    }  # fmt: skip
    system = System(env, tmp_path / "prod-like")
    try:
        up = system.ipe("up", "--detach")
        assert up.returncode == 0, up.stdout + up.stderr
        status = system.status()
        assert status["database_url"] == postgres.url
        assert status["kafka_bootstrap_servers"] == broker.bootstrap_servers
        assert status["postgres"]["local"] is False and status["broker"]["local"] is False
        assert status["brokers"] == [
            {"id": None, "address": broker.bootstrap_servers, "state": "external", "pid": None}
        ]
        assert not (tmp_path / "prod-like" / "pg").exists()
        assert httpx.get(f"{system.url}/healthz").status_code == 200
        assert system.ipe("down").returncode == 0
        assert all(not pid_alive(s["pid"]) for s in status["services"].values())
        assert pid_alive(postgres.pid()) and broker.process is not None and broker.process.poll() is None
    finally:
        system.ipe("down")
        broker.stop()
        postgres.discard()
