"""SMS through an HTTP gateway, exactly once thanks to the gateway's idempotency key.

The contract (docs/notifications.md): ``POST {url}`` with ``Authorization: Bearer {token}``,
``Idempotency-Key: {key}`` and the JSON body ``{"to": "+212…", "text": "…", "idempotency_key": "…"}``.
A 2xx answer (``{"id": "…"}``) means accepted; the gateway answers a repeated key with the first
answer and sends nothing. 408, 425, 429 and 5xx are transient; any other 4xx is permanent.
"""

from __future__ import annotations

import httpx

from ipe_claims.application.ports import Sms
from ipe_claims.domain.notification import Delivered, Failure, Outcome

__all__ = ["Sms", "SmsGateway"]
_TRANSIENT_4XX = {408, 425, 429}


class SmsGateway:
    def __init__(self, url: str, token: str, timeout: float = 15.0) -> None:
        self.url = url
        self.token = token
        self.timeout = timeout

    def send(self, sms: Sms) -> Outcome:
        try:
            response = httpx.post(
                self.url,
                json={"to": sms.to, "text": sms.text, "idempotency_key": sms.idempotency_key},
                headers={"Authorization": f"Bearer {self.token}", "Idempotency-Key": sms.idempotency_key},
                timeout=self.timeout,
            )
        except httpx.HTTPError as exc:
            return Failure(f"gateway unreachable: {type(exc).__name__}", permanent=False)
        if response.is_success:
            try:
                provider_id = str(response.json().get("id", ""))
            except ValueError:
                provider_id = ""
            return Delivered(provider_id)
        reason = f"gateway {response.status_code}: {response.text[:200]}"
        permanent = 400 <= response.status_code < 500 and response.status_code not in _TRANSIENT_4XX
        return Failure(reason, permanent)
