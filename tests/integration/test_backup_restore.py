"""`ipe backup` / `ipe restore`: a restored store replays to the same read models, and the facts kept
beside the store (accounts, reference data, delivery log) come back whole. Servers of its own, started
once: each test has a source database of its own for its claims, and an empty target on the other server."""

from __future__ import annotations

import base64
import gzip
import os
import secrets
import stat
import subprocess
import sys
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import psycopg
import pytest
from fastapi.testclient import TestClient
from kafka.consumer.fetcher import ConsumerRecord

from ipe_claims.adapters.accounts import create_account
from ipe_claims.adapters.avro import AvroCodec
from ipe_claims.adapters.backup import BACKED_UP, REBUILT, SESSION, BackupError, backup_file, restore_file
from ipe_claims.adapters.backup_crypto import read_key
from ipe_claims.adapters.claim_messages import to_message
from ipe_claims.adapters.event_store import make_app
from ipe_claims.adapters.migrations import migrate
from ipe_claims.adapters.projections import apply_claim_event
from ipe_claims.application.claims import ClaimsApplication
from ipe_claims.operations.local import LocalPostgres, free_port
from ipe_claims.settings import Settings
from services.claim_intake.api import create_app
from services.eligibility_projector.projector import EligibilityProjector
from tests.conftest import CLOCK, TODAY, declare

pytestmark = pytest.mark.integration


TEMPLATE = "ipe_migrated"


@dataclass(frozen=True)
class Server:
    """A Postgres server of this module's own, holding a migrated database each test copies."""

    postgres: LocalPostgres
    settings: Settings

    def database(self) -> Iterator[tuple[Settings, ClaimsApplication]]:
        """A new database, a copy of the migrated template (as a newly migrated server's), dropped after."""
        name = f"ipe_{uuid.uuid4().hex[:12]}"
        with psycopg.connect(self.settings.database.url, autocommit=True) as conn:
            conn.execute(f"CREATE DATABASE {name} TEMPLATE {TEMPLATE}")
        settings = self.settings.changed(
            database={"url": self.settings.database.url.rsplit("/", 1)[0] + f"/{name}"}
        )
        app = make_app(settings)
        try:
            yield settings, app
        finally:
            app.close()
            with psycopg.connect(self.settings.database.url, autocommit=True) as conn:
                conn.execute(f"DROP DATABASE {name} WITH (FORCE)")


def _server(home: Path) -> Iterator[Server]:
    """Started once per module: starting and migrating a server cost about 2 s, a copy of its database little."""
    postgres = LocalPostgres(home, free_port())
    postgres.start()
    settings = Settings().changed(
        database={"url": postgres.url},
        kafka={"bootstrap_servers": ""},
        home=home,
        clock_shift_days=CLOCK.shift.days,
    )
    template = settings.changed(database={"url": postgres.url.rsplit("/", 1)[0] + f"/{TEMPLATE}"})
    with psycopg.connect(settings.database.url, autocommit=True) as conn:
        conn.execute(f"CREATE DATABASE {TEMPLATE}")
    migrate(template.database.url)
    make_app(template, create_tables=True).close()
    try:
        yield Server(postgres, settings)
    finally:
        postgres.discard()


@pytest.fixture(scope="module")
def source_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    yield from _server(tmp_path_factory.mktemp("source"))


@pytest.fixture(scope="module")
def target_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    yield from _server(tmp_path_factory.mktemp("target"))


@pytest.fixture
def source(source_server: Server) -> Iterator[tuple[Settings, ClaimsApplication]]:
    """A source database of its own, migrated and empty."""
    yield from source_server.database()


@pytest.fixture
def target(target_server: Server) -> Iterator[tuple[Settings, ClaimsApplication]]:
    """An empty target, migrated, on another server than the source."""
    yield from target_server.database()


def _records(app: ClaimsApplication, codec: AvroCodec, after: int = 0) -> list[ConsumerRecord]:
    """The store's claim events as the consumers receive them (relay encoding, Avro bytes)."""
    found = []
    for notification in app.claim_notifications(after, 10_000):
        message = to_message(codec, app.to_event(notification))
        found.append(ConsumerRecord("ipe.claim-events", 0, -1, notification.id, 0, 0, message.key,
                                    message.value, message.headers, None, -1, -1, -1))  # fmt: skip
    return found


def _claims(conn: psycopg.Connection[Any]) -> list[tuple[Any, ...]]:
    return conn.execute("SELECT * FROM claims ORDER BY claim_id").fetchall()


def _table(conn: psycopg.Connection[Any], table: str) -> list[tuple[Any, ...]]:
    return sorted(conn.execute(f"SELECT * FROM {table}").fetchall(), key=repr)


def test_a_restored_store_replays_to_the_same_read_models(
    source: tuple[Settings, ClaimsApplication], target: tuple[Settings, ClaimsApplication], tmp_path: Path
) -> None:
    (settings, app), (restored_settings, restored_app) = source, target
    codec = AvroCodec(settings.schemas_dir)
    loss = TODAY - timedelta(days=5)
    with psycopg.connect(settings.database.url, autocommit=True) as conn:
        valid = declare(conn, months=38, before=loss)
        short = declare(conn, months=6, before=loss, affiliation_number=valid.affiliation_number)
        create_account(conn, "backup-employer", "pass-backup-1", "employer", [valid.affiliation_number])
        conn.execute("INSERT INTO notifications (event_id, claim_id, kind, immatriculation, subject_fr, body_fr, "
                     "subject_ar, body_ar) VALUES (%s, %s, 'deposited', %s, 's', 'b', 's', 'b')",
                     (uuid.uuid4(), uuid.uuid4(), valid.immatriculation))  # fmt: skip
    with TestClient(create_app(settings, app)) as client:
        token = client.post(
            "/api/v1/auth/token", json={"username": "backup-employer", "password": "pass-backup-1"}
        )
        headers = {"Authorization": f"Bearer {token.json()['access_token']}"}
        for insured in (valid, short):
            body = {"affiliation_number": insured.affiliation_number, "immatriculation": insured.immatriculation,
                    "job_loss_date": loss.isoformat(), "motif_code": "licenciement_economique", "attestation": True}  # fmt: skip
            assert client.post("/api/v1/claims", json=body, headers=headers).status_code == 201
    projector = EligibilityProjector(app, codec, settings.clock())
    with psycopg.connect(settings.database.url, autocommit=True) as conn:
        for record in _records(app, codec):  # submissions: projected and decided (decisions appended)
            with conn.transaction():
                projector.handle(conn, [record])
        for record in _records(app, codec):  # the decisions, projected (the Valable one's payments scheduled)
            with conn.transaction():
                projector.handle(conn, [record])
        for record in _records(app, codec):  # the payments, projected
            with conn.transaction():
                projector.handle(conn, [record])
        live = _claims(conn)
        situations = {row[0] for row in conn.execute("SELECT situation FROM claims")}
        assert len(live) == 2 and situations == {"Valable", "Rejeté"}
        kept = {table: _table(conn, table) for table in ("accounts", "declarations", "notifications")}

    path = tmp_path / "ipe.backup.gz"
    report = backup_file(settings.database.url, path)
    assert (
        report.tables["ipe_events"] >= 6
        and "claims" not in report.tables
        and "api_tokens" not in report.tables
    )

    restored = restore_file(restored_settings.database.url, path)
    assert restored.tables == report.tables
    with psycopg.connect(restored_settings.database.url, autocommit=True) as conn:
        assert _claims(conn) == []  # read models start over: the replay rebuilds them
        assert conn.execute("SELECT count(*) FROM api_tokens").fetchone() == (0,)  # everyone logs in again
        for record in _records(restored_app, codec):
            with conn.transaction():
                name, event = codec.decode(record.value)
                apply_claim_event(conn, name, event)
        assert _claims(conn) == live
        assert {table: _table(conn, table) for table in kept} == kept
    # The store goes on after the restored events, and a second restore over it is refused.
    with psycopg.connect(restored_settings.database.url, autocommit=True) as conn:
        next_id, head = conn.execute(
            "SELECT nextval(pg_get_serial_sequence('ipe_events', 'notification_id')), "
            "(SELECT max(notification_id) FROM ipe_events)"
        ).fetchone()  # type: ignore[misc]
        assert next_id > head
    assert restored_app.find_claim(uuid.UUID(str(live[0][0]))) is not None
    with pytest.raises(BackupError, match="already holds"):
        restore_file(restored_settings.database.url, path)


def test_a_truncated_backup_restores_nothing(
    source: tuple[Settings, ClaimsApplication], target: tuple[Settings, ClaimsApplication], tmp_path: Path
) -> None:
    with psycopg.connect(source[0].database.url, autocommit=True) as conn:
        declare(conn, months=3)
    whole = tmp_path / "whole.gz"
    backup_file(source[0].database.url, whole)
    data = gzip.decompress(whole.read_bytes())
    cut = tmp_path / "cut.gz"
    cut.write_bytes(gzip.compress(data[: len(data) - 40]))
    with pytest.raises(BackupError, match="truncated"):
        restore_file(target[0].database.url, cut)
    with psycopg.connect(target[0].database.url, autocommit=True) as conn:
        assert conn.execute("SELECT count(*) FROM declarations").fetchone() == (0,)


def test_every_table_is_classified(source: tuple[Settings, ClaimsApplication]) -> None:
    """A new table needs a decision: backed up, rebuilt from the log, or session state."""
    with psycopg.connect(source[0].database.url, autocommit=True) as conn:
        tables = {row[0] for row in conn.execute(
            "SELECT table_name FROM information_schema.tables WHERE table_schema = current_schema() "
            "AND table_type = 'BASE TABLE'")}  # fmt: skip
    assert tables - set(BACKED_UP) - set(REBUILT) - set(SESSION) == set()


def _key_file(path: Path) -> Path:
    path.write_text(base64.b64encode(secrets.token_bytes(32)).decode() + "\n")
    path.chmod(0o600)
    return path


def test_an_encrypted_backup_is_private_and_restores_only_with_its_key(
    source: tuple[Settings, ClaimsApplication], target: tuple[Settings, ClaimsApplication], tmp_path: Path
) -> None:
    with psycopg.connect(source[0].database.url, autocommit=True) as conn:
        insured = declare(conn, months=3)
    key, other = _key_file(tmp_path / "backup.key"), _key_file(tmp_path / "other.key")
    path = tmp_path / "sealed.backup"
    env = os.environ | {"DATABASE_URL": source[0].database.url, "IPE_BACKUP_KEY_FILE": str(key)}
    written = subprocess.run([sys.executable, "-m", "ipe_claims.entrypoints.cli", "backup", str(path)], env=env,
                             capture_output=True, text=True, timeout=120)  # fmt: skip
    assert written.returncode == 0 and "encrypted" in written.stdout, written.stdout + written.stderr
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    content = path.read_bytes()
    assert insured.immatriculation.encode() not in content and not content.startswith(b"\x1f\x8b")
    with pytest.raises(gzip.BadGzipFile):  # not a gzip a reader could open without the key
        gzip.decompress(content)

    with pytest.raises(BackupError, match="encrypted"):
        restore_file(target[0].database.url, path)
    with pytest.raises(BackupError, match="does not decrypt"):
        restore_file(target[0].database.url, path, key=read_key(other))
    altered = tmp_path / "altered.backup"
    altered.write_bytes(content[:-40] + bytes(b ^ 1 for b in content[-40:]))
    with pytest.raises(BackupError, match="does not decrypt"):
        restore_file(target[0].database.url, altered, key=read_key(key))
    with psycopg.connect(target[0].database.url, autocommit=True) as conn:
        assert conn.execute("SELECT count(*) FROM declarations").fetchone() == (0,)

    restored = subprocess.run(
        [sys.executable, "-m", "ipe_claims.entrypoints.cli", "restore", str(path), "--key-file", str(key)],
        env=os.environ | {"DATABASE_URL": target[0].database.url}, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert restored.returncode == 0, restored.stdout + restored.stderr
    with psycopg.connect(target[0].database.url, autocommit=True) as conn:
        found = conn.execute("SELECT count(*) FROM declarations WHERE immatriculation = %s",
                             (insured.immatriculation,)).fetchone()  # fmt: skip
    assert found == (3,)


def test_a_plain_backup_is_readable_by_its_owner_alone(
    source: tuple[Settings, ClaimsApplication], tmp_path: Path
) -> None:
    path = tmp_path / "plain.backup.gz"
    path.write_text("an older, world-readable file of the same name")
    path.chmod(0o644)
    old = os.umask(0o022)
    try:
        backup_file(source[0].database.url, path)
    finally:
        os.umask(old)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert gzip.decompress(path.read_bytes()).startswith(b'{"format"')


def test_a_key_file_others_may_read_is_refused(
    source: tuple[Settings, ClaimsApplication], tmp_path: Path
) -> None:
    key = _key_file(tmp_path / "loose.key")
    key.chmod(0o644)
    env = os.environ | {"DATABASE_URL": source[0].database.url}
    refused = subprocess.run(
        [sys.executable, "-m", "ipe_claims.entrypoints.cli", "backup", str(tmp_path / "x.backup"), "--encrypt-key-file",
         str(key)], env=env, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert refused.returncode == 2 and "chmod 600" in refused.stdout
    assert not (tmp_path / "x.backup").exists()
