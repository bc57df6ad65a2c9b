"""The sender: works off due messages from the ``deliveries`` queue, one at a time, in the notifier.

Per message, ``Send`` (ipe_claims/application/notifying.py) runs in one Postgres transaction that holds
the row lock (other senders skip it): load the Notification from the store, record the attempt (the
intent, saved before anything leaves), send, record the outcome, update the row. A process killed
mid-send leaves an attempt without an outcome and releases the lock; the next sender resumes it
(reconciliation on restart): SMS with the same idempotency key (the gateway sends nothing twice), email
with the same Message-ID, marked as a possible duplicate.
"""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Callable
from typing import Any

import psycopg
import structlog

from ipe_claims.adapters import delivery_log
from ipe_claims.adapters.delivery_log import PostgresDeliveryQueue
from ipe_claims.adapters.loops import supervised
from ipe_claims.adapters.notification_store import StoredNotifications
from ipe_claims.adapters.sms_gateway import SmsGateway
from ipe_claims.adapters.smtp import SmtpChannel
from ipe_claims.application.claims import ClaimsApplication
from ipe_claims.application.notifying import Send
from ipe_claims.application.ports import Renderer
from ipe_claims.domain.notification import EMAIL, SMS
from ipe_claims.settings import Settings
from services.notifier.config import NotifierConfig

log = structlog.get_logger()
WAITING_NOTE_SECONDS = 30.0


class Sender:
    def __init__(
        self, settings: Settings, app: ClaimsApplication, renderer: Renderer, config: NotifierConfig,
        jitter: Callable[[], float] = random.random, poll_seconds: float = 0.2,
    ) -> None:  # fmt: skip
        self.settings = settings
        self.poll_seconds = poll_seconds
        self.send = Send(
            StoredNotifications(app), renderer, settings.clock(), config.policy,
            email=SmtpChannel(config.smtp) if config.smtp else None,
            sms=SmsGateway(config.sms_url, config.sms_token, config.send_timeout) if config.sms_url else None,
            jitter=jitter,
        )  # fmt: skip

    @property
    def channels(self) -> list[str]:
        return self.send.channels

    def work_one(self, conn: psycopg.Connection[Any]) -> bool:
        """Send the next due message, if any; return whether there was one."""
        with conn.transaction():
            sending = self.send(PostgresDeliveryQueue(conn))
        if sending is None:
            return False
        if sending.attempted:
            n = sending.notification
            log.info(
                "notification.attempted", delivery_id=str(n.id), claim_id=str(n.claim_id), channel=n.channel,
                kind=n.kind, attempt=n.attempts, status=n.status, reason=n.reason, resumed=n.resumed,
            )  # fmt: skip
        return True

    def run(self, stop: threading.Event) -> None:
        noted_at = 0.0

        def step(conn: psycopg.Connection[Any]) -> float:
            nonlocal noted_at
            if time.monotonic() - noted_at > WAITING_NOTE_SECONDS:
                self._note_unconfigured(conn)
                noted_at = time.monotonic()
            return 0.0 if self.channels and self.work_one(conn) else self.poll_seconds

        # A bug too is retried later: the queue keeps the work.
        supervised(step, stop, "sender", database_url=self.settings.database.url, survive_bugs=True)

    def _note_unconfigured(self, conn: psycopg.Connection[Any]) -> None:
        for channel, variable in ((EMAIL, "IPE_SMTP_HOST"), (SMS, "IPE_SMS_URL")):
            if channel not in self.channels:
                delivery_log.mark_waiting(
                    conn, channel, f"waiting: channel {channel} not configured ({variable})"
                )
