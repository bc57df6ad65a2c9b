"""$IPE_HOME private to its owner, passwords masked for people, backups sealed in chunks that cannot be
moved, dropped or cut (no infrastructure: files in a temporary folder)."""

from __future__ import annotations

import base64
import io
import json
import os
import secrets
import stat
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from ipe_claims.adapters import backup_crypto
from ipe_claims.adapters.backup_crypto import DecryptError, DecryptingReader, EncryptingWriter, KeyFileError
from ipe_claims.operations.private import make_private, masked
from ipe_claims.operations.supervisor import Supervisor

URL = "postgresql://postgres:s3cr3t-Pw_xyz@127.0.0.1:5433/ipe"


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@pytest.fixture
def umask() -> Iterator[None]:
    """make_private sets the process umask (as `ipe up` wants); the test process gets its own back."""
    old = os.umask(0o022)
    yield
    os.umask(old)


def test_make_private_closes_an_existing_home_and_what_is_created_after(tmp_path: Path, umask: None) -> None:
    home = tmp_path / "home"
    (home / "logs").mkdir(parents=True)
    for name in ("state.json", "logs/api.log", "ports.json"):
        (home / name).write_text("{}")
        (home / name).chmod(0o644)
    (home / "logs").chmod(0o755)
    make_private(home)
    assert mode(home) == 0o700 and mode(home / "logs") == 0o700
    assert {mode(home / n) for n in ("state.json", "logs/api.log", "ports.json")} == {0o600}
    (home / "logs" / "new.log").write_text("created after, with a plain open()")
    assert mode(home / "logs" / "new.log") == 0o600


def test_the_supervisor_state_and_ports_are_owner_only(tmp_path: Path, umask: None) -> None:
    supervisor = Supervisor(tmp_path / "home", 8000, env={"DATABASE_URL": URL})
    (tmp_path / "home").mkdir()
    supervisor.write_state("starting")
    state = tmp_path / "home" / "state.json"
    assert mode(state) == 0o600 and json.loads(state.read_text())["database_url"] == URL


def test_masked_hides_the_password_only() -> None:
    assert masked(URL) == "postgresql://postgres:***@127.0.0.1:5433/ipe"
    assert masked("postgresql://ipe@db.example:5432/ipe") == "postgresql://ipe@db.example:5432/ipe"
    assert (
        masked("postgresql://ipe:p%40ss@[::1]/ipe?sslmode=require")
        == "postgresql://ipe:***@[::1]/ipe?sslmode=require"
    )
    assert masked(None) is None


def test_ipe_status_masks_the_password_and_its_json_keeps_it(tmp_path: Path) -> None:
    home = tmp_path / "home"
    home.mkdir()
    (home / "state.json").write_text(json.dumps({"phase": "stopped", "supervisor_pid": None, "database_url": URL,
                                                 "services": {}}))  # fmt: skip
    env = {k: v for k, v in os.environ.items() if k != "DATABASE_URL"} | {"IPE_HOME": str(home)}

    def status(*args: str) -> str:
        done = subprocess.run([sys.executable, "-m", "ipe_claims.entrypoints.cli", "status", *args], env=env,
                              capture_output=True, text=True, timeout=60)  # fmt: skip
        assert done.returncode == 0, done.stderr
        return done.stdout

    shown = status()
    assert "s3cr3t" not in shown and "postgresql://postgres:***@127.0.0.1:5433/ipe" in shown
    assert json.loads(status("--json"))["database_url"] == URL


def test_the_welcome_banner_masks_the_password(capsys: pytest.CaptureFixture[str]) -> None:
    from ipe_claims.entrypoints.cli.ops import print_welcome

    print_welcome({"http_url": "http://127.0.0.1:8000", "home": "/x", "database_url": URL,
                    "kafka_bootstrap_servers": "127.0.0.1:9092"})  # fmt: skip
    out = capsys.readouterr().out
    assert "s3cr3t" not in out and "postgres:***@" in out


def sealed(plain: bytes, key: bytes) -> bytes:
    out = io.BytesIO()
    writer = EncryptingWriter(out, key)
    for start in range(0, len(plain), 7):  # small writes, as gzip makes them
        writer.write(plain[start : start + 7])
    writer.close()
    return out.getvalue()


def opened(data: bytes, key: bytes) -> bytes:
    return io.BufferedReader(DecryptingReader(io.BytesIO(data), key)).read()


@pytest.fixture
def small_chunks(monkeypatch: pytest.MonkeyPatch) -> int:
    monkeypatch.setattr(backup_crypto, "CHUNK", 64)
    return 64 + 16


@pytest.mark.parametrize("size", [0, 1, 63, 64, 65, 640, 1000])
def test_sealed_chunks_round_trip(small_chunks: int, size: int) -> None:
    key, plain = secrets.token_bytes(32), secrets.token_bytes(size)
    assert opened(sealed(plain, key), key) == plain


def test_a_chunk_dropped_moved_or_cut_off_does_not_decrypt(small_chunks: int) -> None:
    key, plain = secrets.token_bytes(32), secrets.token_bytes(640)
    data = sealed(plain, key)
    head = len(backup_crypto.MAGIC) + 16
    chunks = [data[i : i + small_chunks] for i in range(head, len(data), small_chunks)]
    assert len(chunks) == 10  # the last one full too: a writer keeps a chunk back until it is closed
    tampered = {
        "cut after a full chunk": data[: head + 3 * small_chunks],
        "chunk dropped": data[:head] + b"".join(chunks[:2] + chunks[3:]),
        "chunks swapped": data[:head] + b"".join([chunks[1], chunks[0], *chunks[2:]]),
        "wrong key": data,
    }
    for what, bad in tampered.items():
        with pytest.raises(DecryptError):
            opened(bad, secrets.token_bytes(32) if what == "wrong key" else key)


def test_key_files_must_be_private_and_hold_32_bytes(tmp_path: Path) -> None:
    good = tmp_path / "good.key"
    good.write_text(base64.b64encode(b"k" * 32).decode())
    good.chmod(0o600)
    assert backup_crypto.read_key(good) == b"k" * 32
    good.chmod(0o640)
    with pytest.raises(KeyFileError, match="readable by others"):
        backup_crypto.read_key(good)
    short = tmp_path / "short.key"
    short.write_text(base64.b64encode(b"k" * 16).decode())
    short.chmod(0o600)
    with pytest.raises(KeyFileError, match="32 random bytes"):
        backup_crypto.read_key(short)
