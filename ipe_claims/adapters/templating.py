"""Jinja environments whose HTML cannot be injected into.

Names, regions and rule-set versions come from employers' declarations and operators' files: in an HTML
page, ``<script>`` in any of them must come out as text. ``select_autoescape(["html"])`` alone would not do
it for our templates, whose names end in ``.html.j2``: every environment that renders HTML comes from here.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, select_autoescape

HTML_EXTENSIONS = ("html", "htm", "xml", "svg", "html.j2", "htm.j2", "xml.j2", "svg.j2")


def html_environment(folder: Path, **options: Any) -> Environment:
    """Templates in ``folder``, auto-escaped when their name says HTML, XML or SVG (and for strings)."""
    autoescape = select_autoescape(HTML_EXTENSIONS, default_for_string=True, default=False)
    return Environment(loader=FileSystemLoader(folder), autoescape=autoescape, **options)
