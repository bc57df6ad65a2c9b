"""The API's edge, before any route: a request id, the body-size limit, text that is not Unicode refused
(``unicode_text``), ``Cache-Control: no-store``, metrics and one log line per request. A pure ASGI
middleware, so it sees every response, the framework's refusals included.

No-store goes on every answer rather than on a list of routes that carry tokens or personal data: a route
added later cannot be forgotten, and nothing the API answers is worth a cached copy (a route that is may set
its own Cache-Control)."""

from __future__ import annotations

import itertools
import re
import time
import uuid
from typing import Any

import structlog
from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from ipe_claims.adapters import metrics
from ipe_claims.domain.scans import MAX_SCAN_BYTES
from services.claim_intake import errors
from services.claim_intake.unicode_text import unreadable_field

MAX_BODY_BYTES = 16 * 1024  # a claim is about 200 bytes; anything near this is not a claim
# A dossier piece's upload: a scan and its form fields (the route refuses a scan over MAX_SCAN_BYTES).
UPLOAD_PATH = re.compile(r"/api/v1/claims/[^/]+/dossier/[^/]+")
MAX_UPLOAD_BYTES = MAX_SCAN_BYTES + 64 * 1024
_REQUEST_ID = re.compile(r"[A-Za-z0-9._-]{1,64}")
log = structlog.get_logger()


def _header(scope: Scope, name: bytes) -> str | None:
    for key, value in scope.get("headers", ()):
        if key == name:
            return bytes(value).decode("latin-1")
    return None


class Edge:
    """``max_in_flight`` sheds load: past that many requests being served, a request is answered at once
    with 503 and Retry-After instead of queueing until the client times out (/healthz and /metrics are
    exempt, so operators still see what happens)."""

    def __init__(self, app: ASGIApp, max_body_bytes: int = MAX_BODY_BYTES, max_in_flight: int = 64) -> None:
        self.app = app
        self.max_body_bytes = max_body_bytes
        self.max_in_flight = max_in_flight
        self.in_flight = 0
        # Request ids: a random prefix per process and a counter (no system call per request, as uuid4 is).
        self._prefix = uuid.uuid4().hex[:16]
        self._ids = itertools.count(1)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        incoming = _header(scope, b"x-request-id")
        request_id = (
            incoming
            if incoming and _REQUEST_ID.fullmatch(incoming)
            else f"{self._prefix}{next(self._ids):016x}"
        )
        scope.setdefault("state", {})["request_id"] = request_id
        started = time.perf_counter()
        status = 500
        sent_start = False

        async def send_with_id(message: Message) -> None:
            nonlocal status, sent_start
            if message["type"] == "http.response.start":
                status, sent_start = message["status"], True
                headers = MutableHeaders(scope=message)
                headers.append("X-Request-ID", request_id)
                if "cache-control" not in headers:  # tokens and personal data: no copy in any cache
                    headers.append("Cache-Control", "no-store")
            await send(message)

        shed = self.in_flight >= self.max_in_flight and scope["path"] not in ("/healthz", "/metrics")
        self.in_flight += 1
        with structlog.contextvars.bound_contextvars(request_id=request_id):
            try:
                body = None if shed else await self._body(scope, receive)
                if shed:
                    metrics.SHED.inc()
                    await errors.error_response(errors.overloaded())(scope, receive, send_with_id)
                elif body is None:
                    await errors.error_response(errors.too_large(self.limit(scope)))(
                        scope, receive, send_with_id
                    )
                elif (field := unreadable_field(b"".join(m.get("body", b"") for m in body))) is not None:
                    await errors.error_response(errors.invalid_text(field))(scope, receive, send_with_id)
                else:
                    await self.app(scope, _replay(body, receive), send_with_id)
            except Exception as exc:  # never a stack trace to the caller, always the error body
                log.exception("api.unexpected_error", error=type(exc).__name__)
                if not sent_start:
                    await errors.error_response(errors.internal_error())(scope, receive, send_with_id)
            finally:
                self.in_flight -= 1
            route = getattr(scope.get("route"), "path", None) or "unmatched"
            elapsed = time.perf_counter() - started
            metrics.REQUESTS.labels(scope["method"], route, str(status)).inc()
            metrics.LATENCY.labels(scope["method"], route).observe(elapsed)
            log.info("http.request", method=scope["method"], route=route, status=status,
                     duration_ms=round(elapsed * 1000, 1))  # fmt: skip

    def limit(self, scope: Scope) -> int:
        upload = scope["method"] == "POST" and UPLOAD_PATH.fullmatch(scope["path"])
        return max(self.max_body_bytes, MAX_UPLOAD_BYTES) if upload else self.max_body_bytes

    async def _body(self, scope: Scope, receive: Receive) -> list[Message] | None:
        """The request's body messages, read up to the limit; None when it is over."""
        limit = self.limit(scope)
        declared = _header(scope, b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > limit:
            return None
        if scope["method"] in ("GET", "HEAD", "OPTIONS", "DELETE"):
            return []
        messages: list[Message] = []
        size = 0
        while True:
            message = await receive()
            messages.append(message)
            if message["type"] != "http.request":
                return messages
            size += len(message.get("body", b""))
            if size > limit:
                return None
            if not message.get("more_body", False):
                return messages


def _replay(messages: list[Message], receive: Receive) -> Any:
    pending = list(messages)

    async def replay() -> Message:
        return pending.pop(0) if pending else await receive()

    return replay
