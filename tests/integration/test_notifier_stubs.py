"""Real servers the notifier talks to in tests: an SMTP server (aiosmtpd) and an HTTP SMS gateway stub,
each on a free local port, counting what they actually received. The tests below check the stubs
themselves; the notifier tests and the crash test import them."""

from __future__ import annotations

import email
import email.policy
import json
import threading
from collections import Counter
from email.message import EmailMessage
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from aiosmtpd.controller import Controller

from ipe_claims.adapters.sms_gateway import Sms, SmsGateway
from ipe_claims.adapters.smtp import Email, SmtpChannel, SmtpConfig
from ipe_claims.domain.notification import Delivered, Failure
from ipe_claims.operations.local import free_port


class SmtpSink:
    """An SMTP server that keeps every message it accepted. ``stop()`` closes the port (connections are
    refused) until ``start()`` opens it again; a recipient containing "refuse" gets a 550."""

    def __init__(self) -> None:
        self.port = free_port()
        self.messages: list[EmailMessage] = []
        self.lock = threading.Lock()
        self.controller: Controller | None = None

    async def handle_RCPT(self, server: Any, session: Any, envelope: Any, address: str, options: Any) -> str:
        if "refuse" in address:
            return "550 5.1.1 mailbox unavailable"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        message = email.message_from_bytes(envelope.content, policy=email.policy.default)
        assert isinstance(message, EmailMessage)
        with self.lock:
            self.messages.append(message)
        return "250 Message accepted for delivery"

    def start(self) -> SmtpSink:
        self.controller = Controller(self, hostname="127.0.0.1", port=self.port)
        self.controller.start()
        return self

    def stop(self) -> None:
        if self.controller is not None:
            self.controller.stop()
            self.controller = None

    def received(self, to: str | None = None) -> list[EmailMessage]:
        with self.lock:
            return [m for m in self.messages if to is None or m["To"] == to]

    def message_ids(self) -> Counter[str]:
        return Counter(str(m["Message-ID"]) for m in self.received())


class SmsGatewayStub:
    """The SMS gateway contract of docs/notifications.md: bearer token, idempotency key, 2xx on accept.
    ``sent`` holds what it "sent" (once per key); ``fail_next[to] = n`` answers 503 n times;
    a number in ``invalid`` gets a 400."""

    def __init__(self, token: str = "sms-token") -> None:
        self.token = token
        self.sent: dict[str, dict[str, str]] = {}
        self.requests = 0
        self.fail_next: dict[str, int] = {}
        self.invalid: set[str] = set()
        self.lock = threading.Lock()
        stub = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                return None

            def do_POST(self) -> None:
                body = json.loads(self.rfile.read(int(self.headers.get("Content-Length", 0))) or b"{}")
                status, answer = stub.answer(self.headers.get("Authorization", ""),
                                             self.headers.get("Idempotency-Key", ""), body)  # fmt: skip
                payload = json.dumps(answer).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

        self.server = ThreadingHTTPServer(("127.0.0.1", free_port()), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}/v1/messages"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def answer(self, authorization: str, key: str, body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        with self.lock:
            self.requests += 1
            if authorization != f"Bearer {self.token}":
                return 401, {"error": "unauthorized"}
            to = str(body.get("to", ""))
            if not key or key != body.get("idempotency_key") or not body.get("text"):
                return 400, {"error": "idempotency key and text required"}
            if to in self.invalid:
                return 400, {"error": "invalid number"}
            if self.fail_next.get(to, 0) > 0:
                self.fail_next[to] -= 1
                return 503, {"error": "try again"}
            if key in self.sent:
                return 200, {"id": self.sent[key]["id"], "duplicate": True}
            self.sent[key] = {"id": f"sms-{len(self.sent) + 1}", "to": to, "text": str(body["text"])}
            return 201, {"id": self.sent[key]["id"]}

    def start(self) -> SmsGatewayStub:
        self.thread.start()
        return self

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    def to(self, number: str) -> list[dict[str, str]]:
        with self.lock:
            return [sent for sent in self.sent.values() if sent["to"] == number]


def test_the_gateway_stub_sends_once_per_idempotency_key() -> None:
    stub = SmsGatewayStub().start()
    try:
        gateway = SmsGateway(stub.url, stub.token)
        first = gateway.send(Sms("+212612345678", "bonjour", "key-1"))
        again = gateway.send(Sms("+212612345678", "bonjour", "key-1"))
        assert isinstance(first, Delivered) and first == again
        assert len(stub.sent) == 1 and stub.requests == 2
        stub.invalid.add("+212600000000")
        refused = gateway.send(Sms("+212600000000", "bonjour", "key-2"))
        assert isinstance(refused, Failure) and refused.permanent and "400" in refused.reason
        stub.fail_next["+212611111111"] = 1
        busy = gateway.send(Sms("+212611111111", "bonjour", "key-3"))
        assert isinstance(busy, Failure) and not busy.permanent
        wrong_token = SmsGateway(stub.url, "nope").send(Sms("+212611111111", "x", "key-4"))
        assert isinstance(wrong_token, Failure) and wrong_token.permanent
    finally:
        stub.stop()


def test_the_smtp_channel_classifies_what_the_server_says() -> None:
    sink = SmtpSink().start()
    channel = SmtpChannel(SmtpConfig("127.0.0.1", sink.port, security="none", timeout=5))
    try:
        letter = Email("w@example.ma", "Sujet / موضوع", "texte", '<p dir="rtl">نص</p>', "<abc@ipe.test>")
        assert channel.send(letter) == Delivered("<abc@ipe.test>")
        (received,) = sink.received()
        assert received["Message-ID"] == "<abc@ipe.test>" and received["Subject"] == "Sujet / موضوع"
        assert received.get_body(("plain",)).get_content().strip() == "texte"  # type: ignore[union-attr]
        assert "نص" in received.get_body(("html",)).get_content()  # type: ignore[union-attr]
        refused = channel.send(Email("refuse@example.ma", "s", "t", "<p>h</p>", "<def@ipe.test>"))
        assert isinstance(refused, Failure) and refused.permanent and "550" in refused.reason
        sink.stop()
        down = channel.send(letter)
        assert isinstance(down, Failure) and not down.permanent
    finally:
        sink.stop()
