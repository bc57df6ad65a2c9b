"""Encrypted backups: AES-256-GCM (the ``cryptography`` package) over the gzip stream, in chunks.

A backup holds insured people, their declarations, contacts and password hashes; encrypted, a copy that
leaves the server (tape, object store) is unreadable without the operator's key. The file is streamed in
chunks of ``CHUNK`` bytes, so a backup of any size needs little memory; each chunk is sealed on its own
(the STREAM construction, as in *age* or Tink's streaming AEAD):

    MAGIC | salt (16 bytes) | sealed chunk … | sealed last chunk

A chunk's key is derived from the operator's key and the file's random salt (HKDF-SHA256), its nonce is
the chunk's number (11 bytes) and a last-chunk flag (1 byte): a chunk moved, dropped, repeated or a file
cut short fails to decrypt. The key file holds 32 random bytes in base64 (``openssl rand -base64 32``)
and must be readable by its owner alone.
"""

from __future__ import annotations

import base64
import binascii
import io
import os
import secrets
import stat
from pathlib import Path
from typing import IO

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

MAGIC = b"IPE-BACKUP-AES256GCM/1\n"
CHUNK = 1 << 20
_TAG = 16
_SALT = 16


class KeyFileError(ValueError):
    """The key file cannot be used; the message says why."""


class DecryptError(ValueError):
    """The file is not what the key sealed: wrong key, or altered, or cut short."""


def read_key(path: Path) -> bytes:
    """The 32-byte key in ``path`` (base64), refused when others than its owner may read it."""
    try:
        mode = path.stat().st_mode
        text = path.read_text().strip()
    except OSError as exc:
        raise KeyFileError(f"cannot read the key file {path}: {exc.strerror}") from None
    if mode & (stat.S_IRWXG | stat.S_IRWXO):
        raise KeyFileError(f"the key file {path} is readable by others: chmod 600 {path}")
    try:
        key = base64.b64decode(text.replace("-", "+").replace("_", "/"), validate=True)
    except (binascii.Error, ValueError):
        key = b""
    if len(key) != 32:
        raise KeyFileError(
            f"the key file {path} must hold 32 random bytes in base64 (openssl rand -base64 32)"
        )
    return key


def _aead(key: bytes, salt: bytes) -> AESGCM:
    derived = HKDF(algorithm=hashes.SHA256(), length=32, salt=salt, info=b"ipe-backup chunk key").derive(key)
    return AESGCM(derived)


def _nonce(counter: int, last: bool) -> bytes:
    return counter.to_bytes(11, "big") + (b"\x01" if last else b"\x00")


def is_encrypted(path: Path) -> bool:
    with path.open("rb") as data:
        return data.read(len(MAGIC)) == MAGIC


class EncryptingWriter(io.RawIOBase):
    """A binary file to write the plain backup into; ``close()`` seals the last chunk."""

    def __init__(self, out: IO[bytes], key: bytes) -> None:
        salt = secrets.token_bytes(_SALT)
        out.write(MAGIC + salt)
        self._out, self._aead, self._buffer, self._counter = out, _aead(key, salt), bytearray(), 0

    def writable(self) -> bool:
        return True

    def write(self, data: bytes | bytearray | memoryview) -> int:  # type: ignore[override]
        self._buffer += data
        while len(self._buffer) > CHUNK:  # keep one chunk back: only close() knows which is last
            self._seal(bytes(self._buffer[:CHUNK]), last=False)
            del self._buffer[:CHUNK]
        return len(data)

    def _seal(self, chunk: bytes, last: bool) -> None:
        self._out.write(self._aead.encrypt(_nonce(self._counter, last), chunk, None))
        self._counter += 1

    def close(self) -> None:
        if not self.closed:
            self._seal(bytes(self._buffer), last=True)
            self._out.flush()
        super().close()


class DecryptingReader(io.RawIOBase):
    """The plain backup, read from an encrypted file chunk by chunk."""

    def __init__(self, data: IO[bytes], key: bytes) -> None:
        if data.read(len(MAGIC)) != MAGIC:
            raise DecryptError("not an encrypted ipe backup")
        self._in, self._aead = data, _aead(key, data.read(_SALT))
        self._plain, self._pos, self._counter, self._done = memoryview(b""), 0, 0, False
        self._next = data.read(CHUNK + _TAG)

    def readable(self) -> bool:
        return True

    def _open_next(self) -> None:
        sealed, self._next = self._next, self._in.read(CHUNK + _TAG)
        last = not self._next
        try:
            self._plain = memoryview(self._aead.decrypt(_nonce(self._counter, last), sealed, None))
            self._pos = 0
        except InvalidTag:
            raise DecryptError(
                "the backup does not decrypt: wrong key, or the file was altered or cut short"
            ) from None
        self._counter += 1
        self._done = last

    def readinto(self, buffer: bytearray | memoryview) -> int:  # type: ignore[override]
        while self._pos == len(self._plain) and not self._done:
            self._open_next()
        n = min(len(buffer), len(self._plain) - self._pos)
        buffer[:n] = self._plain[self._pos : self._pos + n]
        self._pos += n
        return n


def private_file(path: Path) -> IO[bytes]:
    """A new file only its owner may read, from its creation on (0600)."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    os.fchmod(fd, 0o600)
    return os.fdopen(fd, "wb")
