"""Email over SMTP (smtplib): one conversation per message, classified into sent / transient / permanent.

SMTP has no idempotency: the caller records the attempt before calling ``send`` and gives every message
a stable Message-ID, so the only possible duplicate (accepted, then the process died before recording
it) carries the same Message-ID and is marked by the caller.
"""

from __future__ import annotations

import smtplib
import ssl
from dataclasses import dataclass, field
from email.message import EmailMessage
from email.utils import formatdate

from ipe_claims.application.ports import Email
from ipe_claims.domain.notification import Delivered, Failure, Outcome

__all__ = ["Email", "SmtpChannel", "SmtpConfig", "build_message"]
SECURITY = ("starttls", "ssl", "none")


@dataclass(frozen=True)
class SmtpConfig:
    host: str
    port: int = 587
    security: str = "starttls"  # starttls | ssl (implicit TLS, usually port 465) | none (local relays, tests)
    username: str | None = None
    password: str | None = field(default=None, repr=False)
    sender: str = "CNSS IPE <no-reply@cnss.ma>"
    timeout: float = 15.0
    verify_tls: bool = True


def build_message(config: SmtpConfig, email: Email) -> EmailMessage:
    """multipart/alternative: the plain-text part first, the HTML part (with its dir/lang) second."""
    message = EmailMessage()
    message["From"] = config.sender
    message["To"] = email.to
    message["Subject"] = email.subject
    message["Message-ID"] = email.message_id
    message["Date"] = formatdate(localtime=False, usegmt=True)
    if email.possible_duplicate:
        message["X-IPE-Possible-Duplicate"] = "yes"
    message.set_content(email.text, charset="utf-8")
    message.add_alternative(email.html, subtype="html", charset="utf-8")
    return message


def _permanent(code: int) -> bool:
    return 500 <= code < 600


class SmtpChannel:
    def __init__(self, config: SmtpConfig) -> None:
        if config.security not in SECURITY:
            raise ValueError(f"IPE_SMTP_SECURITY must be one of {', '.join(SECURITY)}")
        self.config = config

    def _context(self) -> ssl.SSLContext:
        context = ssl.create_default_context()
        if not self.config.verify_tls:
            context.check_hostname = False
            context.verify_mode = ssl.CERT_NONE
        return context

    def _connect(self) -> smtplib.SMTP:
        c = self.config
        if c.security == "ssl":
            return smtplib.SMTP_SSL(c.host, c.port, timeout=c.timeout, context=self._context())
        smtp = smtplib.SMTP(c.host, c.port, timeout=c.timeout)
        if c.security == "starttls":
            smtp.starttls(context=self._context())
        return smtp

    def send(self, email: Email) -> Outcome:
        message = build_message(self.config, email)
        try:
            with self._connect() as smtp:
                if self.config.username:
                    smtp.login(self.config.username, self.config.password or "")
                smtp.send_message(message)
        except smtplib.SMTPRecipientsRefused as exc:
            code, text = next(iter(exc.recipients.values()))
            return Failure(f"recipient refused: {code} {_text(text)}", _permanent(code))
        except smtplib.SMTPAuthenticationError as exc:
            # Our credentials, not the worker's address: fixing the configuration must deliver it.
            return Failure(f"authentication failed: {exc.smtp_code}", permanent=False)
        except smtplib.SMTPResponseException as exc:
            return Failure(f"smtp {exc.smtp_code} {_text(exc.smtp_error)}", _permanent(exc.smtp_code))
        except (OSError, smtplib.SMTPException) as exc:
            return Failure(f"smtp unreachable: {type(exc).__name__}", permanent=False)
        return Delivered(email.message_id)


def _text(raw: bytes | str) -> str:
    return (raw.decode(errors="replace") if isinstance(raw, bytes) else raw)[:200]
