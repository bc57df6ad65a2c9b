"""Renders the French and Arabic messages to the insured from template files (first line = subject),
and lays them out for each channel: a bilingual email (plain text + HTML, the Arabic part right-to-left)
and a short bilingual SMS. The worker's language comes first."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, StrictUndefined

from ipe_claims.adapters.templating import html_environment
from ipe_claims.application.ports import EmailContent, Rendered, Texts

__all__ = ["KINDS", "LANGUAGES", "EmailContent", "MessageRenderer", "Rendered", "Texts"]

TEMPLATES = Path(__file__).parent / "templates"
KINDS = (
    "deposited", "valid", "rejected", "benefit_ended", "payment_issued", "dossier_piece_refused", "dossier_reminder",
)  # fmt: skip
LANGUAGES = ("fr", "ar")
_DIRECTION = {"fr": "ltr", "ar": "rtl"}


def _ordered(language: str) -> tuple[str, str]:
    return ("ar", "fr") if language == "ar" else ("fr", "ar")


class MessageRenderer:
    def __init__(self, templates: Path = TEMPLATES) -> None:
        # Plain text: autoescape would turn the apostrophes of the French text into entities. Templates
        # are read once per process (auto_reload off): no stat() of the file for every message.
        self.env = Environment(
            loader=FileSystemLoader(templates),
            undefined=StrictUndefined,
            autoescape=False,
            keep_trailing_newline=True,
            auto_reload=False,
        )
        self.html = html_environment(templates, undefined=StrictUndefined, auto_reload=False)

    def render(self, kind: str, language: str, context: dict[str, Any]) -> Rendered:
        text = self.env.get_template(f"{kind}.{language}.j2").render(context)
        subject, _, body = text.partition("\n")
        return Rendered(subject.strip(), _tidy(body))

    def email(self, texts: Texts, language: str) -> EmailContent:
        first, second = (texts.of(lang) for lang in _ordered(language))
        sections = [
            {
                "lang": lang,
                "dir": _DIRECTION[lang],
                "subject": texts.of(lang).subject,
                "paragraphs": [p.split("\n") for p in texts.of(lang).body.strip().split("\n\n")],
            }
            for lang in _ordered(language)
        ]
        html = self.html.get_template("email.html.j2").render(
            sections=sections, title=first.subject, claim_id=texts.claim_id
        )
        text = f"{first.subject}\n\n{first.body}\n----------\n\n{second.subject}\n\n{second.body}"
        return EmailContent(f"{first.subject} / {second.subject}", text, html)

    def sms(self, texts: Texts, language: str) -> str:
        first, second = (texts.of(lang).subject for lang in _ordered(language))
        rendered = self.env.get_template("sms.txt.j2").render(
            first=first, second=second, reference=texts.claim_id[:8]
        )
        return rendered.strip()


def _tidy(body: str) -> str:
    """No run of blank lines (left by optional blocks), one final newline."""
    lines: list[str] = []
    for line in body.strip().split("\n"):
        if line.strip() or (lines and lines[-1].strip()):
            lines.append(line.rstrip())
    return "\n".join(lines).strip() + "\n"
