"""Renders the French and Arabic messages to the insured from template files (first line = subject)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, StrictUndefined

TEMPLATES = Path(__file__).parent / "templates"
KINDS = ("deposited", "valid", "rejected")


@dataclass(frozen=True)
class Rendered:
    subject: str
    body: str


class MessageRenderer:
    def __init__(self, templates: Path = TEMPLATES) -> None:
        # Plain text: autoescape would turn the apostrophes of the French text into entities.
        self.env = Environment(
            loader=FileSystemLoader(templates),
            undefined=StrictUndefined,
            autoescape=False,
            keep_trailing_newline=True,
        )

    def render(self, kind: str, language: str, context: dict[str, Any]) -> Rendered:
        text = self.env.get_template(f"{kind}.{language}.j2").render(context)
        subject, _, body = text.partition("\n")
        return Rendered(subject.strip(), body.strip() + "\n")
