"""The test harness: one real Postgres and one real Kafka broker per session, on free ports.

The broker is Apache Kafka (a single node, from the jars ``make kafka-jars`` fetches) when a JDK 17+
and Maven are here, else the embedded Tansu broker; ``IPE_TEST_BROKER=apache|embedded`` decides
instead, and the session's header says which. Only tests that ask for ``infra`` (integration, e2e)
start them; unit tests need nothing. Tests use random identifiers, so they share the servers without
cleaning up after each other.

The whole system under test lives on one day, ``TODAY``, whatever the day the suite runs: the harness moves
every clock (``IPE_CLOCK_SHIFT_DAYS``, ipe_claims/application/clock.py) of this process and of the processes it starts.
``make test`` runs the date-dependent tests (marked ``calendar``) again at the calendar's edges by setting
``IPE_TEST_TODAY``.
"""

from __future__ import annotations

import csv
import os
import random
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any, TypeVar

import psycopg
import pytest
from argon2 import PasswordHasher
from kafka import KafkaConsumer

from ipe_claims.adapters import accounts
from ipe_claims.adapters.declarations import HEADER as DECLARATIONS_HEADER
from ipe_claims.adapters.declarations import load_rows
from ipe_claims.adapters.event_store import make_app
from ipe_claims.adapters.kafka import ensure_topics
from ipe_claims.adapters.migrations import migrate
from ipe_claims.application.claims import ClaimsApplication
from ipe_claims.application.clock import SystemClock
from ipe_claims.domain.contributions import months_before
from ipe_claims.entrypoints.bootstrap import configure_logging
from ipe_claims.operations.kafka_cluster import KafkaCluster
from ipe_claims.operations.kafka_jars import fetch, kafka_version, toolchain
from ipe_claims.operations.local import LocalBroker, LocalPostgres, free_port
from ipe_claims.settings import Settings

T = TypeVar("T")

# 29 February by default: the day most likely to break date arithmetic; `make test` adds the others.
TODAY = date.fromisoformat(os.environ.get("IPE_TEST_TODAY") or "2028-02-29")
CLOCK = SystemClock.living_on(TODAY)


def days_ago(days: int) -> date:
    return TODAY - timedelta(days=days)


def pytest_configure(config: pytest.Config) -> None:
    # Every process the tests start (`ipe up`, the CLI) reads its clock from the environment.
    os.environ["IPE_CLOCK_SHIFT_DAYS"] = str(CLOCK.shift.days)


@pytest.fixture(scope="session", autouse=True)
def quick_password_hashes() -> Iterator[None]:
    """Argon2id at its lowest cost for the accounts this process makes and logs in with: at the default cost
    (about 0.1 s a hash and 0.1 s a check) a new logged-in account cost 0.2 s, and the integration tests make
    hundreds. Same algorithm, same code path; the unknown-name check stays as costly as a known one's. The
    processes the tests start (`ipe` as a command, `ipe up`) keep the default, and a hash verifies under any
    cost: its parameters are written in it."""
    quick = PasswordHasher(time_cost=1, memory_cost=8, parallelism=1)
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(accounts, "_hasher", quick)
        patch.setattr(accounts, "_DUMMY_HASH", quick.hash("not-a-password"))
        yield


@dataclass(frozen=True)
class Infra:
    settings: Settings
    postgres: LocalPostgres
    broker: LocalBroker | KafkaCluster


def test_broker() -> tuple[str, str]:
    """``apache`` or ``embedded``, and why: IPE_TEST_BROKER, else Apache Kafka when it can run here."""
    wanted = os.environ.get("IPE_TEST_BROKER", "")
    if wanted in ("apache", "embedded"):
        return wanted, "IPE_TEST_BROKER"
    usable, why = toolchain()
    return ("apache" if usable else "embedded"), why


test_broker.__test__ = False  # type: ignore[attr-defined]  # not a test, despite its name


@pytest.fixture(scope="session")
def infra(tmp_path_factory: pytest.TempPathFactory, pytestconfig: pytest.Config) -> Iterator[Infra]:
    home = tmp_path_factory.mktemp("ipe-harness")
    postgres = LocalPostgres(home, free_port())
    kind, why = test_broker()
    said = (
        f"Apache Kafka {kafka_version()}, single node" if kind == "apache" else "embedded Tansu, memory only"
    )
    reporter = pytestconfig.pluginmanager.get_plugin("terminalreporter")
    capture = pytestconfig.pluginmanager.get_plugin("capturemanager")
    if reporter is not None and capture is not None:  # one line, even under -q
        with capture.global_and_fixture_disabled():
            reporter.write_line(f"\nbroker: {said} ({why})")
    broker: LocalBroker | KafkaCluster
    if kind == "apache":  # the JVM boots while Postgres starts: a second or so off every session
        broker = KafkaCluster.on_free_ports(home / "kafka", fetch(), 1)
        for node in broker.nodes:
            broker.start_node(node.node_id)
        postgres.start()
        broker.wait_ready()
    else:
        broker = LocalBroker(home, free_port())
        postgres.start()
        broker.start()
    settings = Settings().changed(
        database={"url": postgres.url},
        kafka={"bootstrap_servers": broker.bootstrap_servers, "fast_groups": True},
        home=home,
        clock_shift_days=CLOCK.shift.days,
    )
    configure_logging("tests")
    migrate(settings.database.url)
    make_app(settings, create_tables=True).close()
    ensure_topics(settings.kafka.bootstrap_servers)
    try:
        yield Infra(settings, postgres, broker)
    finally:
        broker.stop()
        postgres.discard()


@pytest.fixture(scope="session")
def settings(infra: Infra) -> Settings:
    return infra.settings


@pytest.fixture(scope="session")
def claims_app(settings: Settings) -> Iterator[ClaimsApplication]:
    app = make_app(settings)
    yield app
    app.close()


@pytest.fixture
def conn(settings: Settings) -> Iterator[psycopg.Connection[Any]]:
    with psycopg.connect(settings.database.url, autocommit=True) as connection:
        yield connection


def random_digits(n: int) -> str:
    return str(random.randrange(10 ** (n - 1), 10**n))


@dataclass(frozen=True)
class Insured:
    affiliation_number: str
    immatriculation: str
    cin: str
    nom: str
    prenoms: str


def declare(
    conn: psycopg.Connection[Any],
    *,
    months: int,
    days: int = 26,
    salary: Decimal = Decimal("4000.00"),
    before: date | None = None,
    affiliation_number: str | None = None,
) -> Insured:
    """A new random insured, declared by a (new random) affiliation for ``months`` months before ``before``."""
    insured = Insured(
        affiliation_number or random_digits(7),
        random_digits(9),
        f"T{random_digits(6)}",
        f"NOM{random_digits(4)}",
        f"PRENOM{random_digits(4)}",
    )
    rows = [
        (insured.affiliation_number, insured.immatriculation, insured.cin, insured.nom, insured.prenoms,
         period, days, salary)
        for period in months_before(before or TODAY, months)
    ]  # fmt: skip
    load_rows(conn, rows)
    return insured


def write_declarations_csv(path: Path, affiliation: str, insured: list[str], months: int = 38) -> Path:
    """A file for `ipe declarations load`: each insured declared 26 days at 3 500.00 for ``months`` months."""
    with path.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(DECLARATIONS_HEADER)
        for number in insured:
            for period in months_before(TODAY, months):
                writer.writerow(
                    [
                        affiliation,
                        number,
                        f"X{number}",
                        "NOM",
                        "PRENOM",
                        period.strftime("%Y-%m"),
                        26,
                        "3500.00",
                    ]
                )
    return path


def wait_for(probe: Callable[[], T | None], timeout: float = 30.0, what: str = "condition") -> T:
    """Poll ``probe`` until it returns something truthy; tests wait on state, never on a fixed sleep."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = probe()
        if value:
            return value
        time.sleep(0.05)
    raise AssertionError(f"timed out after {timeout}s waiting for {what}")


@pytest.fixture
def tmp_home(tmp_path: Path) -> Path:
    return tmp_path / "ipe-home"


@contextmanager
def running(run: Callable[[threading.Event], None]) -> Iterator[threading.Event]:
    """A loop (a consumer's ``run``) in a thread of its own until the block ends; its stop event."""
    stop = threading.Event()
    thread = threading.Thread(target=run, args=(stop,), daemon=True)
    thread.start()
    try:
        yield stop
    finally:
        stop.set()
        thread.join(timeout=20)


def topic_partitions(servers: str, topic: str) -> int:
    """How many partitions the broker says ``topic`` has (0 when it has no such topic)."""
    consumer = KafkaConsumer(bootstrap_servers=servers)
    try:
        return len(consumer.partitions_for_topic(topic) or ())
    finally:
        consumer.close()
