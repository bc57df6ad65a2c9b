"""Schema evolution checks over ``schemas/``: every version must read what every older one wrote.

The check is Avro resolution itself (fastavro): records generated from the writer schema, covering
its unions and optional fields, are written with it and read with the reader schema. A reader field
without default that the writer lacks, a narrowed type or a removed enum symbol fails here, in CI,
before a consumer fails on the topic.
"""

from __future__ import annotations

import io
import json
import re
from collections import defaultdict
from pathlib import Path
from typing import Any

from fastavro import parse_schema, schemaless_reader, schemaless_writer
from fastavro.utils import generate_many

_FILE_NAME = re.compile(r"^(?P<name>[A-Za-z0-9_]+)\.v(?P<version>\d+)\.avsc$")


def schema_versions(schemas_dir: Path) -> dict[str, list[tuple[int, dict[str, Any]]]]:
    """Each record name with its versions, oldest first."""
    found: dict[str, list[tuple[int, dict[str, Any]]]] = defaultdict(list)
    for path in sorted(schemas_dir.glob("*.avsc")):
        match = _FILE_NAME.match(path.name)
        if not match:
            raise ValueError(f"schema file {path.name} is not named NAME.vN.avsc")
        schema: dict[str, Any] = parse_schema(json.loads(path.read_text()), _write_hint=False)  # type: ignore[assignment]
        found[match["name"]].append((int(match["version"]), schema))
    return {name: sorted(versions, key=lambda v: v[0]) for name, versions in found.items()}


def version_pairs(schemas_dir: Path) -> list[tuple[str, int, int]]:
    """(name, older, newer) for every two versions of a record."""
    return [
        (name, old, new)
        for name, versions in schema_versions(schemas_dir).items()
        for i, (old, _) in enumerate(versions)
        for new, _ in versions[i + 1 :]
    ]


def read_problems(writer: dict[str, Any], reader: dict[str, Any], samples: int = 100) -> list[str]:
    """Why records written with ``writer`` cannot be read with ``reader`` (empty when they can)."""
    problems: list[str] = []
    for record in generate_many(writer, samples):
        buffer = io.BytesIO()
        schemaless_writer(buffer, writer, record)
        buffer.seek(0)
        try:
            schemaless_reader(buffer, writer, reader)
        except Exception as exc:  # fastavro raises several types; each is a reason to refuse the change
            problems.append(f"{type(exc).__name__}: {exc}")
            break
    return problems
