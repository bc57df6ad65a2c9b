"""The uploaded scans of a dossier's pieces, stored by content.

A scan's key is the lowercase hex SHA-256 of its bytes: the ``DocumentRecorded`` event carries the key, the
store carries the bytes, so the event store stays small and a scan uploaded twice is stored once. A read
checks the bytes against their key. Only a PDF, a JPEG or a PNG of at most ``MAX_SCAN_BYTES`` is a scan,
and its type is read from its first bytes (``sniff``, a rule of the domain: ``domain/scans.py``).

``FolderBlobs`` keeps them in a private folder (``$IPE_HOME/blobs`` by default: ``blobs_folder``);
``S3Blobs`` in a bucket of an S3-compatible store through the MinIO client (one small pure-Python package
where boto3 brings botocore's whole service catalogue).
"""

from __future__ import annotations

import io
import os
import secrets
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from minio import Minio
from minio.error import S3Error

from ipe_claims.domain.scans import (
    JPEG,
    MAX_SCAN_BYTES,
    PDF,
    PNG,
    SCAN_EMPTY,
    SCAN_TOO_LARGE,
    SCAN_TYPE_REFUSED,
    RefusedScan,
    sha256_of,
    sniff,
)
from ipe_claims.settings import Settings

__all__ = ["JPEG", "MAX_SCAN_BYTES", "PDF", "PNG", "SCAN_EMPTY", "SCAN_TOO_LARGE", "SCAN_TYPE_REFUSED",
           "BlobNotFound", "Blobs", "CorruptBlob", "FolderBlobs", "RefusedScan", "S3Blobs", "Scan",
           "blobs_folder", "scan_store", "sha256_of", "sniff", "store_scan"]  # fmt: skip


class BlobNotFound(LookupError):
    """No blob under that key (or not a key at all)."""


class CorruptBlob(Exception):
    """The stored bytes no longer hash to their key."""


def _checked_key(key: str) -> str:
    if len(key) != 64 or any(c not in "0123456789abcdef" for c in key):
        raise BlobNotFound("a blob's key is the lowercase hex of a SHA-256")
    return key


def _verified(key: str, data: bytes) -> bytes:
    if sha256_of(data) != key:
        raise CorruptBlob(f"blob {key} does not hash to its key")
    return data


class Blobs(Protocol):
    """A content-addressed store: ``put`` returns the key, storing the same bytes again changes nothing."""

    def put(self, data: bytes, media_type: str) -> str: ...

    def get(self, key: str) -> bytes: ...

    def exists(self, key: str) -> bool: ...


@dataclass(frozen=True)
class Scan:
    sha256: str
    media_type: str
    size: int


def store_scan(blobs: Blobs, data: bytes) -> Scan:
    """Check that ``data`` is a scan (``sniff``), store it, and say what was stored."""
    media_type = sniff(data)
    return Scan(blobs.put(data, media_type), media_type, len(data))


def blobs_folder(home: Path) -> Path:
    """Where ``FolderBlobs`` keeps the scans by default: ``$IPE_HOME/blobs``."""
    return home / "blobs"


class FolderBlobs:
    """Scans as files ``root/ab/cd/abcd…``: fanned out by the key's first hex digits so no folder grows
    past 65 536 entries, written to a temporary file and renamed (a reader never sees half a scan), in
    folders of mode 0700 and files of mode 0600 (a scan of an identity card is nobody else's business)."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def path(self, key: str) -> Path:
        key = _checked_key(key)
        return self.root / key[:2] / key[2:4] / key

    def put(self, data: bytes, media_type: str) -> str:
        key = sha256_of(data)
        path = self.path(key)
        if path.exists():
            return key
        for folder in (self.root, path.parent.parent, path.parent):
            folder.mkdir(mode=0o700, exist_ok=True)
            os.chmod(folder, 0o700)  # mkdir's mode is cut by the umask, and an older folder may be wider
        temporary = path.with_name(f".{key}.{secrets.token_hex(8)}.tmp")
        fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        try:
            with os.fdopen(fd, "wb") as file:
                file.write(data)
                file.flush()
                os.fsync(file.fileno())
            os.replace(temporary, path)
        finally:
            temporary.unlink(missing_ok=True)
        directory = os.open(path.parent, os.O_RDONLY)
        try:
            os.fsync(directory)  # the rename itself survives a crash
        finally:
            os.close(directory)
        return key

    def get(self, key: str) -> bytes:
        try:
            data = self.path(key).read_bytes()
        except FileNotFoundError:
            raise BlobNotFound(f"no blob {key}") from None
        return _verified(key, data)

    def exists(self, key: str) -> bool:
        return self.path(key).exists()


class S3Client(Protocol):
    """The part of ``minio.Minio`` that S3Blobs uses (tests pass a fake)."""

    def put_object(
        self, bucket_name: str, object_name: str, data: Any, length: int, content_type: str = ...
    ) -> Any: ...

    def get_object(self, bucket_name: str, object_name: str) -> Any: ...

    def stat_object(self, bucket_name: str, object_name: str) -> Any: ...


def _no_such_key(error: S3Error) -> bool:
    return error.code in {"NoSuchKey", "NoSuchObject"}


class S3Blobs:
    """Scans as objects ``scans/<key>`` of a bucket in an S3-compatible store; ``connect`` makes the
    client. The bucket's encryption and access policy are the store's configuration, not ours."""

    PREFIX = "scans/"

    def __init__(self, client: S3Client, bucket: str) -> None:
        self.client = client
        self.bucket = bucket

    @classmethod
    def connect(
        cls, endpoint: str, access_key: str, secret_key: str, bucket: str, *, secure: bool = True
    ) -> S3Blobs:
        """A store on ``endpoint`` (host:port); nothing is sent until the first call."""
        return cls(Minio(endpoint, access_key=access_key, secret_key=secret_key, secure=secure), bucket)

    def _name(self, key: str) -> str:
        return self.PREFIX + _checked_key(key)

    def put(self, data: bytes, media_type: str) -> str:
        key = sha256_of(data)
        if not self.exists(key):
            self.client.put_object(
                self.bucket, self._name(key), io.BytesIO(data), len(data), content_type=media_type
            )
        return key

    def get(self, key: str) -> bytes:
        try:
            response = self.client.get_object(self.bucket, self._name(key))
        except S3Error as error:
            if _no_such_key(error):
                raise BlobNotFound(f"no blob {key}") from None
            raise
        try:
            data: bytes = response.read()
        finally:
            response.close()
            response.release_conn()
        return _verified(key, data)

    def exists(self, key: str) -> bool:
        try:
            self.client.stat_object(self.bucket, self._name(key))
        except S3Error as error:
            if _no_such_key(error):
                return False
            raise
        return True


def scan_store(settings: Settings) -> FolderBlobs | S3Blobs:
    """The store the settings name: the S3 bucket of IPE_S3_* when IPE_S3_ENDPOINT is set, else
    ``$IPE_HOME/blobs``."""
    config = settings.blobs
    if config.s3_endpoint:
        return S3Blobs.connect(config.s3_endpoint, config.s3_access_key, config.s3_secret_key,
                               config.s3_bucket, secure=config.s3_secure)  # fmt: skip
    return FolderBlobs(blobs_folder(settings.home))
