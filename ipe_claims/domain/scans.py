"""What a scan of a dossier piece is: a PDF, a JPEG or a PNG of at most ``MAX_SCAN_BYTES``, its type read
from its first bytes (``sniff``), never from the name or the type the client claims, and named by the
lowercase hex SHA-256 of its bytes. The stores that keep the bytes are adapters (``adapters/blobs.py``).
"""

from __future__ import annotations

import hashlib

from ipe_claims.domain.errors import CodedError

MAX_SCAN_BYTES = 10 * 1024 * 1024  # a scanned A4 page is well under 1 MiB; ten pages at 300 dpi fit
PDF, JPEG, PNG = "application/pdf", "image/jpeg", "image/png"
_SIGNATURES = ((b"%PDF-", PDF), (b"\xff\xd8\xff", JPEG), (b"\x89PNG\r\n\x1a\n", PNG))

SCAN_EMPTY = "scan_empty"
SCAN_TOO_LARGE = "scan_too_large"
SCAN_TYPE_REFUSED = "scan_type_refused"


class RefusedScan(CodedError):
    """Bytes that are not a scan we keep: empty, too large, or not a PDF, JPEG or PNG."""


def sniff(data: bytes) -> str:
    """The media type of a scan from its magic bytes, or RefusedScan."""
    if not data:
        raise RefusedScan(SCAN_EMPTY, "the file is empty")
    if len(data) > MAX_SCAN_BYTES:
        raise RefusedScan(SCAN_TOO_LARGE, f"a scan is at most {MAX_SCAN_BYTES // (1024 * 1024)} MiB")
    media_type = next((kind for magic, kind in _SIGNATURES if data.startswith(magic)), None)
    if media_type is None:
        raise RefusedScan(SCAN_TYPE_REFUSED, "a scan is a PDF, a JPEG or a PNG")
    return media_type


def sha256_of(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()
