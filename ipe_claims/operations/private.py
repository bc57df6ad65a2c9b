"""``$IPE_HOME`` is private to its owner: its logs may quote claims, ``state.json`` holds the database
password, backups hold insured people. Folders are 0700 and files 0600, whatever the umask of the shell
that ran ``ipe up``; what a process of ``ipe up`` creates afterwards is private too (umask 077)."""

from __future__ import annotations

import os
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

PRIVATE_UMASK = 0o077


def make_private(home: Path) -> None:
    """Create ``home`` if need be and take every permission but the owner's off it and what it holds.

    A Postgres cluster inside it (``home/pg``) is left alone: Postgres keeps it 0700 for its own user. When
    that user is not us (we are root), it must still reach its cluster, so ``home`` is then 0711: others may
    traverse it to a name they know, never list it, and every file in it is 0600 anyway.
    """
    os.umask(PRIVATE_UMASK)
    home.mkdir(parents=True, exist_ok=True)
    cluster = home / "pg"
    for folder, folders, files in os.walk(home):
        here = Path(folder)
        if here == cluster:
            folders.clear()
            continue
        os.chmod(here, 0o700)
        for name in files:
            path = here / name
            if not path.is_symlink():
                os.chmod(path, 0o600)
    shared_cluster = os.geteuid() == 0 and (cluster / "PG_VERSION").exists()
    os.chmod(home, 0o711 if shared_cluster else 0o700)


def write_private(path: Path, text: str) -> None:
    """Write ``text`` to a file only its owner may read (0600 from its creation, not after)."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    os.fchmod(fd, 0o600)  # an older file of the same name may have had wider rights
    with os.fdopen(fd, "w", encoding="utf-8") as out:
        out.write(text)


def masked(url: str | None) -> str | None:
    """A URL as people may see it: its password replaced by ``***`` (postgresql://ipe:***@host/db)."""
    if not url:
        return url
    parts = urlsplit(url)
    if parts.password is None:
        return url
    user = parts.username or ""
    host = parts.hostname or ""
    if ":" in host:
        host = f"[{host}]"
    netloc = f"{user}:***@{host}" + (f":{parts.port}" if parts.port else "")
    return urlunsplit((parts.scheme, netloc, parts.path, parts.query, parts.fragment))
