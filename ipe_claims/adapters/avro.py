"""Avro single-object encoding (marker C3 01, CRC-64-AVRO fingerprint, binary body) over ``schemas/``.

Any consumer finds the writer schema from the fingerprint, without a registry service, and reads it
with the newest version of the same record as reader schema (Avro schema resolution).
"""

from __future__ import annotations

import io
import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, cast

from fastavro import parse_schema, schemaless_reader, schemaless_writer
from fastavro.schema import fingerprint, to_parsing_canonical_form

MARKER = b"\xc3\x01"
_FILE_NAME = re.compile(r"^(?P<name>[A-Za-z0-9_]+)\.v(?P<version>\d+)\.avsc$")


class AvroDecodeError(ValueError):
    """The bytes are not a message we can read; the reason says why (for the dead-letter record)."""


@dataclass(frozen=True)
class SchemaVersion:
    name: str
    version: int
    schema: dict[str, Any]
    fingerprint: bytes
    # The same schema as fastavro marks its own parse: given the plain one, fastavro parses it again on
    # every call (about a quarter of an encode or a decode).
    parsed: Any = None


class AvroCodec:
    def __init__(self, schemas_dir: Path) -> None:
        self.by_fingerprint: dict[bytes, SchemaVersion] = {}
        self.latest: dict[str, SchemaVersion] = {}
        for path in sorted(schemas_dir.glob("*.avsc")):
            match = _FILE_NAME.match(path.name)
            if not match:
                raise ValueError(f"schema file {path.name} is not named NAME.vN.avsc")
            source = json.loads(path.read_text())
            parsed = parse_schema(source, _write_hint=False)
            canonical = to_parsing_canonical_form(parsed)
            # fastavro gives the fingerprint's bytes little-endian already, as the spec's header wants.
            digest = bytes.fromhex(fingerprint(canonical, "CRC-64-AVRO"))
            entry = SchemaVersion(match["name"], int(match["version"]), cast(dict[str, Any], parsed), digest,
                                  parse_schema(source))  # fmt: skip
            self.by_fingerprint[entry.fingerprint] = entry
            current = self.latest.get(entry.name)
            if current is None or current.version < entry.version:
                self.latest[entry.name] = entry

    def encode(self, name: str, record: dict[str, Any]) -> bytes:
        schema = self.latest[name]
        buf = io.BytesIO()
        buf.write(MARKER + schema.fingerprint)
        schemaless_writer(buf, schema.parsed, record)
        return buf.getvalue()

    def decode(self, data: bytes | None) -> tuple[str, dict[str, Any]]:
        """Return (record name, record) read with the newest schema of that name."""
        if not data or len(data) < 10 or data[:2] != MARKER:
            raise AvroDecodeError("not Avro single-object encoding (marker C3 01 missing)")
        writer = self.by_fingerprint.get(data[2:10])
        if writer is None:
            raise AvroDecodeError(f"unknown writer schema fingerprint {data[2:10].hex()}")
        reader = self.latest[writer.name]
        buf = io.BytesIO(data[10:])
        try:  # no resolution when the writer is the newest version: the body reads as it is
            record = schemaless_reader(buf, writer.parsed, None if reader is writer else reader.parsed)
        except Exception as exc:  # fastavro raises many types on corrupt input
            raise AvroDecodeError(
                f"body does not match schema {writer.name} v{writer.version}: {exc}"
            ) from exc
        if buf.read(1):
            raise AvroDecodeError(f"trailing bytes after a {writer.name} v{writer.version} record")
        return writer.name, cast(dict[str, Any], record)
