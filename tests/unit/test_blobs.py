"""Uploaded scans: typed by their first bytes, size-limited, stored by SHA-256 in a private folder or an
S3 bucket (a fake client here: the part of minio's that the store calls), checked against their key."""

from __future__ import annotations

import hashlib
import io
import stat
from pathlib import Path
from typing import Any

import pytest
from minio.error import S3Error

from ipe_claims.adapters.blobs import (
    JPEG,
    MAX_SCAN_BYTES,
    PDF,
    PNG,
    BlobNotFound,
    Blobs,
    CorruptBlob,
    FolderBlobs,
    RefusedScan,
    S3Blobs,
    blobs_folder,
    sniff,
    store_scan,
)

PDF_BYTES = b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj\n<<>>\nendobj\n%%EOF\n"
JPEG_BYTES = b"\xff\xd8\xff\xe0\x00\x10JFIF\x00" + b"\x00" * 32
PNG_BYTES = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + b"\x00" * 32


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@pytest.mark.parametrize(("data", "media_type"), [(PDF_BYTES, PDF), (JPEG_BYTES, JPEG), (PNG_BYTES, PNG)])
def test_a_scan_is_typed_by_its_magic_bytes(data: bytes, media_type: str) -> None:
    assert sniff(data) == media_type


@pytest.mark.parametrize(
    ("data", "code"),
    [
        (b"", "scan_empty"),
        (b"GIF89a" + b"\x00" * 10, "scan_type_refused"),
        (b"PK\x03\x04 a docx or a zip", "scan_type_refused"),
        (b"<html>%PDF-1.7", "scan_type_refused"),  # the signature must open the file
        (b"\x89PNG\r\n", "scan_type_refused"),  # half a PNG signature
        (PDF_BYTES + b"\x00" * MAX_SCAN_BYTES, "scan_too_large"),
    ],
)
def test_anything_else_is_refused_with_its_code(data: bytes, code: str) -> None:
    with pytest.raises(RefusedScan) as refused:
        sniff(data)
    assert refused.value.code == code


def test_the_size_limit_is_inclusive() -> None:
    assert sniff(PDF_BYTES + b"\x00" * (MAX_SCAN_BYTES - len(PDF_BYTES))) == PDF


def test_a_folder_stores_each_scan_once_under_its_sha256_privately(tmp_path: Path) -> None:
    blobs = FolderBlobs(blobs_folder(tmp_path))
    scan = store_scan(blobs, PDF_BYTES)
    assert scan.sha256 == hashlib.sha256(PDF_BYTES).hexdigest() and (scan.media_type, scan.size) == (
        PDF,
        len(PDF_BYTES),
    )
    path = tmp_path / "blobs" / scan.sha256[:2] / scan.sha256[2:4] / scan.sha256
    assert path.read_bytes() == PDF_BYTES and mode(path) == 0o600
    assert {mode(folder) for folder in (tmp_path / "blobs", path.parent, path.parent.parent)} == {0o700}
    assert blobs.put(PDF_BYTES, PDF) == scan.sha256 and blobs.get(scan.sha256) == PDF_BYTES
    assert [p.name for p in (tmp_path / "blobs").rglob("*") if p.is_file()] == [
        scan.sha256
    ]  # no temporary left
    assert blobs.exists(scan.sha256) and not blobs.exists("0" * 64)


def test_a_folder_refuses_what_is_not_a_scan_before_storing(tmp_path: Path) -> None:
    blobs = FolderBlobs(tmp_path / "blobs")
    with pytest.raises(RefusedScan):
        store_scan(blobs, b"MZ\x90\x00 an executable")
    assert not (tmp_path / "blobs").exists()


def test_a_missing_a_malformed_or_a_corrupt_blob_is_an_error(tmp_path: Path) -> None:
    blobs = FolderBlobs(tmp_path)
    with pytest.raises(BlobNotFound):
        blobs.get("0" * 64)
    with pytest.raises(BlobNotFound):
        blobs.get("../../etc/passwd")
    key = blobs.put(PNG_BYTES, PNG)
    blobs.path(key).write_bytes(PNG_BYTES + b"tampered")
    with pytest.raises(CorruptBlob):
        blobs.get(key)


def s3_error(code: str, name: str) -> S3Error:
    """An S3Error as minio raises it for a failed request (no HTTP response in a fake)."""
    no_response: Any = None
    return S3Error(no_response, code, "from the fake", name, "request", "host")


class FakeS3:
    """In-memory objects behind the calls S3Blobs makes; S3Error as minio raises it."""

    def __init__(self) -> None:
        self.objects: dict[tuple[str, str], tuple[bytes, str]] = {}
        self.puts = 0

    def _missing(self, bucket: str, name: str) -> S3Error:
        return s3_error("NoSuchKey", name)

    def put_object(
        self, bucket_name: str, object_name: str, data: Any, length: int, content_type: str = ""
    ) -> Any:
        self.puts += 1
        self.objects[(bucket_name, object_name)] = (data.read(length), content_type)

    def get_object(self, bucket_name: str, object_name: str) -> Any:
        if (bucket_name, object_name) not in self.objects:
            raise self._missing(bucket_name, object_name)
        response: Any = io.BytesIO(self.objects[(bucket_name, object_name)][0])
        response.release_conn = lambda: None
        return response

    def stat_object(self, bucket_name: str, object_name: str) -> Any:
        if (bucket_name, object_name) not in self.objects:
            raise self._missing(bucket_name, object_name)
        return object()


def test_an_s3_bucket_stores_each_scan_once_with_its_type() -> None:
    client = FakeS3()
    blobs: Blobs = S3Blobs(client, "ipe-scans")
    scan = store_scan(blobs, JPEG_BYTES)
    assert client.objects == {("ipe-scans", f"scans/{scan.sha256}"): (JPEG_BYTES, JPEG)}
    assert store_scan(blobs, JPEG_BYTES) == scan and client.puts == 1
    assert blobs.get(scan.sha256) == JPEG_BYTES and blobs.exists(scan.sha256)
    assert not blobs.exists("1" * 64)
    with pytest.raises(BlobNotFound):
        blobs.get("1" * 64)
    client.objects[("ipe-scans", f"scans/{scan.sha256}")] = (b"other bytes", JPEG)
    with pytest.raises(CorruptBlob):
        blobs.get(scan.sha256)


def test_other_s3_errors_are_not_taken_for_a_missing_blob() -> None:
    class Denied(FakeS3):
        def stat_object(self, bucket_name: str, object_name: str) -> Any:
            raise s3_error("AccessDenied", object_name)

    with pytest.raises(S3Error):
        S3Blobs(Denied(), "ipe-scans").exists("2" * 64)


def test_connect_makes_a_minio_client_without_calling_it() -> None:
    blobs = S3Blobs.connect("s3.example.invalid:9000", "access", "secret", "ipe-scans", secure=True)
    assert type(blobs.client).__name__ == "Minio" and blobs.bucket == "ipe-scans"
