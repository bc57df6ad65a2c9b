"""The local Postgres asks every client for the password generated with its cluster (scram-sha-256),
and a cluster made when it trusted everyone is given a password on its next start."""

from __future__ import annotations

import stat
from pathlib import Path

import psycopg
import pytest

from ipe_claims.operations.local import LocalPostgres, free_port
from tests.conftest import Infra

pytestmark = pytest.mark.integration


def refused_without_password(postgres: LocalPostgres) -> bool:
    try:
        psycopg.connect(f"postgresql://postgres@127.0.0.1:{postgres.port}/ipe", connect_timeout=5).close()
    except psycopg.OperationalError as exc:
        return "password" in str(exc)
    return False


def test_the_harness_postgres_wants_its_generated_password(infra: Infra) -> None:
    postgres = infra.postgres
    assert refused_without_password(postgres)
    wrong = postgres.url.replace(postgres.password, "not-the-password")
    with pytest.raises(psycopg.OperationalError, match="password authentication failed"):
        psycopg.connect(wrong, connect_timeout=5).close()
    with psycopg.connect(postgres.url) as conn:
        assert conn.execute("SHOW password_encryption").fetchone() == ("scram-sha-256",)
    secret = postgres.data_dir / LocalPostgres.PASSWORD_FILE
    assert stat.S_IMODE(secret.stat().st_mode) == 0o600 and len(postgres.password) >= 32
    rules = [line.split() for line in (postgres.data_dir / "pg_hba.conf").read_text().splitlines()
             if line.strip() and not line.lstrip().startswith("#")]  # fmt: skip
    assert rules and {rule[-1] for rule in rules} == {"scram-sha-256"}


def test_a_cluster_that_trusted_everyone_gets_a_password_on_its_next_start(tmp_path: Path) -> None:
    postgres = LocalPostgres(tmp_path / "legacy", free_port())
    postgres.start()
    try:
        postgres.stop()
        data = postgres.data_dir  # as the earlier code left it: trust everywhere, no password kept
        hba = data / "pg_hba.conf"
        hba.write_text(hba.read_text().replace("scram-sha-256", "trust"))
        (data / LocalPostgres.PASSWORD_FILE).unlink()
        again = LocalPostgres(tmp_path / "legacy", postgres.port)
        again.start()
        assert again.password != postgres.password
        assert refused_without_password(again)
        with psycopg.connect(again.url) as conn:
            assert conn.execute("SELECT 1").fetchone() == (1,)
        assert "trust" not in "".join(
            line for line in hba.read_text().splitlines() if not line.lstrip().startswith("#")
        )
    finally:
        postgres.discard()
