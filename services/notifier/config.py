"""The notifier's channels and retry policy, read from the environment once at start-up.

A channel whose variables are unset is simply not configured: its messages stay pending (never lost)
until a notifier that has it runs. See docs/notifications.md.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field

from ipe_claims.adapters.smtp import SmtpConfig
from ipe_claims.domain.notification import RetryPolicy


@dataclass(frozen=True)
class NotifierConfig:
    smtp: SmtpConfig | None = None
    sms_url: str | None = None
    sms_token: str = ""
    policy: RetryPolicy = field(default_factory=RetryPolicy)
    message_id_domain: str = "ipe.cnss.ma"
    send_timeout: float = 15.0

    @classmethod
    def from_env(cls, env: dict[str, str] | os._Environ[str] = os.environ) -> NotifierConfig:
        timeout = float(env.get("IPE_NOTIFY_TIMEOUT_SECONDS", "15"))
        smtp = None
        if env.get("IPE_SMTP_HOST"):
            security = env.get("IPE_SMTP_SECURITY", "starttls")
            smtp = SmtpConfig(
                host=env["IPE_SMTP_HOST"],
                port=int(env.get("IPE_SMTP_PORT") or {"ssl": 465, "none": 25}.get(security, 587)),
                security=security,
                username=env.get("IPE_SMTP_USERNAME") or None,
                password=env.get("IPE_SMTP_PASSWORD") or None,
                sender=env.get("IPE_SMTP_FROM", "CNSS IPE <no-reply@cnss.ma>"),
                timeout=timeout,
                verify_tls=env.get("IPE_SMTP_VERIFY_TLS", "1") != "0",
            )
        return cls(
            smtp=smtp,
            sms_url=env.get("IPE_SMS_URL") or None,
            sms_token=env.get("IPE_SMS_TOKEN", ""),
            policy=RetryPolicy(
                base_seconds=float(env.get("IPE_NOTIFY_RETRY_BASE_SECONDS", "30")),
                cap_seconds=float(env.get("IPE_NOTIFY_RETRY_CAP_SECONDS", "3600")),
                max_attempts=int(env.get("IPE_NOTIFY_MAX_ATTEMPTS", "12")),
            ),
            message_id_domain=env.get("IPE_MESSAGE_ID_DOMAIN", "ipe.cnss.ma"),
            send_timeout=timeout,
        )
