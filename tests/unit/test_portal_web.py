"""The portal's cookie and CSRF rules, without a database (the pages themselves: tests/integration/test_portal.py)."""

from __future__ import annotations

import pytest
from fastapi.responses import Response
from starlette.requests import Request

from services.claim_intake import errors
from services.claim_intake.portal import web


def request(url: str) -> Request:
    scheme, _, rest = url.partition("://")
    host, _, port = rest.partition(":")
    return Request({"type": "http", "method": "GET", "path": "/portail/", "query_string": b"", "scheme": scheme,
                    "server": (host, int(port or (443 if scheme == "https" else 80))),
                    "headers": [(b"host", rest.encode())]})  # fmt: skip


@pytest.mark.parametrize(
    ("url", "secure"),
    [("http://127.0.0.1:8000", False), ("http://localhost:8000", False), ("https://127.0.0.1:8443", True),
     ("https://portail.cnss.ma", True), ("http://portail.cnss.ma", True), ("http://10.0.0.5:8000", True)],
)  # fmt: skip
def test_cookies_are_secure_unless_plain_http_to_loopback(url: str, secure: bool) -> None:
    response = Response()
    web.set_cookie(response, request(url), web.SESSION_COOKIE, "opaque", 60)
    cookie = response.headers["set-cookie"].lower()
    assert "httponly" in cookie and "samesite=strict" in cookie and "path=/portail" in cookie
    assert ("secure" in cookie.split("; ")) is secure


@pytest.mark.parametrize("sent", [{}, {"csrf": ""}, {"csrf": "abc"}, {"csrf": "expected-tokeN"}])
def test_a_missing_or_wrong_csrf_token_is_a_403(sent: dict[str, str]) -> None:
    with pytest.raises(web.PageError) as refused:
        web.check_csrf("expected-token", sent)
    assert errors.status_of(refused.value.refusal) == 403 and refused.value.refusal.message_ar


def test_no_session_token_refuses_everything() -> None:
    with pytest.raises(web.PageError):
        web.check_csrf(None, {"csrf": ""})
    web.check_csrf("expected-token", {"csrf": "expected-token"})  # the one that passes
