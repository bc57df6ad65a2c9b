"""The sender: works off due messages from the ``deliveries`` queue, one at a time, in the notifier.

Per message, in one Postgres transaction that holds the row lock (other senders skip it):
load the Notification from the store, record the attempt (the intent, saved before anything leaves),
send, record the outcome, update the row. A process killed mid-send leaves an attempt without an
outcome and releases the lock; the next sender resumes it (reconciliation on restart): SMS with the same
idempotency key (the gateway sends nothing twice), email with the same Message-ID, marked as a possible
duplicate.
"""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Callable
from typing import Any

import psycopg
import structlog
from eventsourcing.persistence import IntegrityError

from ipe_claims.adapters import delivery_log
from ipe_claims.adapters.delivery_log import Due
from ipe_claims.adapters.loops import supervised
from ipe_claims.adapters.sms_gateway import Sms, SmsGateway
from ipe_claims.adapters.smtp import Email, SmtpChannel
from ipe_claims.application.claims import ClaimsApplication
from ipe_claims.domain.notification import EMAIL, PENDING, SMS, Notification, Outcome
from ipe_claims.settings import Settings
from services.notifier.config import NotifierConfig
from services.notifier.messages import MessageRenderer, Texts

log = structlog.get_logger()
WAITING_NOTE_SECONDS = 30.0


class Sender:
    def __init__(
        self, settings: Settings, app: ClaimsApplication, renderer: MessageRenderer, config: NotifierConfig,
        jitter: Callable[[], float] = random.random, poll_seconds: float = 0.2,
    ) -> None:  # fmt: skip
        self.settings = settings
        self.clock = settings.clock()
        self.app = app
        self.renderer = renderer
        self.config = config
        self.jitter = jitter
        self.poll_seconds = poll_seconds
        self.smtp = SmtpChannel(config.smtp) if config.smtp else None
        self.sms = (
            SmsGateway(config.sms_url, config.sms_token, config.send_timeout) if config.sms_url else None
        )
        self.sent = 0

    @property
    def channels(self) -> list[str]:
        return [name for name, channel in ((EMAIL, self.smtp), (SMS, self.sms)) if channel is not None]

    def _deliver(self, notification: Notification, texts: Texts, possible_duplicate: bool) -> Outcome:
        if notification.channel == EMAIL and self.smtp is not None:
            content = self.renderer.email(texts, notification.language)
            return self.smtp.send(
                Email(notification.address, content.subject, content.text, content.html,
                      notification.message_id, possible_duplicate)
            )  # fmt: skip
        assert notification.channel == SMS and self.sms is not None
        text = self.renderer.sms(texts, notification.language)
        return self.sms.send(Sms(notification.address, text, notification.message_id))

    def work_one(self, conn: psycopg.Connection[Any]) -> bool:
        """Send the next due message, if any; return whether there was one."""
        with conn.transaction():
            due = delivery_log.lock_next_due(conn, self.channels, self.clock.now())
            if due is None:
                return False
            notification: object = self.app.repository.get(due.delivery_id)
            assert isinstance(notification, Notification)
            if notification.status != PENDING:  # the row lagged behind the store
                delivery_log.upsert(conn, notification)
                return True
            notification.attempt()
            try:
                self.app.save(notification)
            except IntegrityError:
                return True  # another sender recorded an attempt first: leave it to them
            outcome = self._deliver(notification, _texts(due), notification.possible_duplicate)
            notification.conclude(outcome, self.config.policy, self.jitter(), self.clock.now())
            self.app.save(notification)
            delivery_log.upsert(conn, notification)
        log.info(
            "notification.attempted", delivery_id=str(notification.id), claim_id=str(notification.claim_id),
            channel=notification.channel, kind=notification.kind, attempt=notification.attempts,
            status=notification.status, reason=notification.reason, resumed=notification.resumed,
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


def _texts(due: Due) -> Texts:
    return Texts(due.subject_fr, due.body_fr, due.subject_ar, due.body_ar, str(due.claim_id))
