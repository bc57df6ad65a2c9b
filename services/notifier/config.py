"""The notifier's channels and retry policy, as the sender uses them, from ``settings.notifier``.

A channel whose variables are unset is simply not configured: its messages stay pending (never lost)
until a notifier that has it runs. See docs/notifications.md.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from ipe_claims.adapters.smtp import SmtpConfig
from ipe_claims.domain.notification import RetryPolicy
from ipe_claims.settings import NotifierSettings, Settings

DEFAULT_SMTP_PORTS = {"ssl": 465, "none": 25, "starttls": 587}


@dataclass(frozen=True)
class NotifierConfig:
    smtp: SmtpConfig | None = None
    sms_url: str | None = None
    sms_token: str = field(default="", repr=False)
    policy: RetryPolicy = field(default_factory=RetryPolicy)
    message_id_domain: str = "ipe.cnss.ma"
    send_timeout: float = 15.0

    @classmethod
    def from_settings(cls, settings: Settings) -> NotifierConfig:
        notifier = settings.notifier
        return cls(
            smtp=_smtp(notifier),
            sms_url=notifier.sms_url or None,
            sms_token=notifier.sms_token,
            policy=RetryPolicy(
                notifier.retry_base_seconds, notifier.retry_cap_seconds, notifier.max_attempts
            ),
            message_id_domain=notifier.message_id_domain,
            send_timeout=notifier.timeout_seconds,
        )


def _smtp(notifier: NotifierSettings) -> SmtpConfig | None:
    if not notifier.smtp_host:
        return None
    return SmtpConfig(
        host=notifier.smtp_host,
        port=notifier.smtp_port or DEFAULT_SMTP_PORTS[notifier.smtp_security],
        security=notifier.smtp_security,
        username=notifier.smtp_username or None,
        password=notifier.smtp_password or None,
        sender=notifier.smtp_from,
        timeout=notifier.timeout_seconds,
        verify_tls=notifier.smtp_verify_tls,
    )
