"""Text that Postgres cannot store must be refused before any route sees it.

JSON may spell a lone surrogate (``"\\ud800"``) and Python's ``json`` reads it, and the bytes of one too
(``json.loads`` decodes with ``surrogatepass``), into a ``str`` that no UTF-8 encoder accepts: stored, it
would fail whatever statement carried it — for a claim submission, the statement its whole batch shares.
"""

from __future__ import annotations

import json
import re
from typing import Any

# Only bodies with a non-ASCII byte or a surrogate's escape can hold one: the rest are not parsed again.
_SURROGATE_ESCAPE = re.compile(rb"\\u[dD][89a-fA-F]")


def _readable(text: str) -> bool:
    try:
        text.encode()
    except UnicodeEncodeError:
        return False
    return True


def _unreadable(parsed: Any) -> tuple[str, ...] | None:
    """Depth first, without recursion: a body may nest as deep as ``json`` parses."""
    stack: list[tuple[Any, tuple[str, ...]]] = [(parsed, ())]
    while stack:
        value, path = stack.pop()
        if isinstance(value, str) and not _readable(value):
            return path
        if isinstance(value, dict):
            for key in value:
                if not _readable(key):
                    return path  # the key itself cannot be named in the answer
            stack += reversed([(item, (*path, key)) for key, item in value.items()])
        elif isinstance(value, list):
            stack += reversed([(item, (*path, str(n))) for n, item in enumerate(value)])
    return None


def unreadable_field(body: bytes) -> str | None:
    """The dotted path of the first JSON string (or the object holding the first key) that is not valid
    Unicode; "" for the body itself; None when there is none or the body is not JSON (the route refuses it)."""
    if body.isascii() and not _SURROGATE_ESCAPE.search(body):
        return None
    try:
        parsed = json.loads(body)
    except (ValueError, RecursionError):  # not JSON, not text, too deep: the route's own refusal
        return None
    found = _unreadable(parsed)
    return None if found is None else ".".join(found)
