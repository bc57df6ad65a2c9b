"""The HTTP layer's one table: a refusal's code gives its status, its extras its headers."""

from __future__ import annotations

import pytest

from ipe_claims.application import intake
from services.claim_intake import errors


@pytest.mark.parametrize(
    ("refusal", "status", "headers"),
    [(errors.overloaded(), 503, {"retry-after": "1"}), (errors.unavailable(), 503, {"retry-after": "2"}),
     (errors.rate_limited(7), 429, {"retry-after": "7"}), (errors.unauthorized(), 401, {"www-authenticate": "Bearer"}),
     (errors.forbidden(), 403, {}), (intake.not_found("affiliation_number"), 404, {}),
     (intake.open_claim_exists(), 409, {}), (intake.idempotency_key_reused(), 422, {}),
     (intake.invalid_value("nom"), 400, {}), (errors.too_large(10), 413, {})],
)  # fmt: skip
def test_a_refusal_answers_with_its_codes_status_and_its_headers(
    refusal: intake.Refusal, status: int, headers: dict[str, str]
) -> None:
    response = errors.error_response(refusal)
    assert response.status_code == status
    assert {
        k: v for k, v in response.headers.items() if k not in ("content-length", "content-type")
    } == headers


def test_the_body_is_the_same_whatever_the_code() -> None:
    response = errors.error_response(intake.not_found("affiliation_number"))
    assert response.body == ('{"error":{"code":"not_found","message_fr":"Introuvable.","message_ar":"غير موجود.",'
                             '"field":"affiliation_number"}}').encode()  # fmt: skip


def test_a_405_names_the_allowed_methods() -> None:
    response = errors.error_response(
        errors.method_not_allowed(["GET", "POST"]), headers={"Allow": "GET, POST"}
    )
    assert (response.status_code, response.headers["allow"]) == (405, "GET, POST")
