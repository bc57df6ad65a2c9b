"""CSV cells a spreadsheet cannot execute (OWASP, "CSV Injection").

A name or CIN is whatever an employer declared: spreadsheet software reads a cell starting with ``=``, ``+``,
``-`` or ``@`` as a formula (``=HYPERLINK(...)`` sends the sheet's data away on a click), and one starting with
a tab or a carriage return may be read as one after the software trims it. Such a cell is prefixed with a
single quote, which the software shows as text; quotes inside a cell are doubled by the ``csv`` writer.
"""

from __future__ import annotations

from typing import Any

ACTIVE = ("=", "+", "-", "@", "\t", "\r")


def cell(value: Any) -> str:
    """The cell's text: empty for None, quoted out of formula reach when it starts like one."""
    text = "" if value is None else str(value)
    return f"'{text}" if text.startswith(ACTIVE) else text
