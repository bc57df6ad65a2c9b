"""The submission's token cache forgets entries after its ttl and never grows past its size."""

from __future__ import annotations

from ipe_claims.adapters.accounts import Principal
from services.claim_intake.deps import Tokens

EMPLOYER = Principal("employer-1", "employer", frozenset({"1234567"}))


def test_an_entry_lives_for_the_ttl_and_can_be_forgotten() -> None:
    tokens = Tokens(ttl=60)
    tokens.put("token-a", EMPLOYER)
    assert tokens.get("token-a") == EMPLOYER
    assert tokens.get("token-b") is None
    tokens.forget("token-a")
    assert tokens.get("token-a") is None
    expired = Tokens(ttl=0)
    expired.put("token-a", EMPLOYER)
    assert expired.get("token-a") is None


def test_the_cache_stays_within_its_size() -> None:
    tokens = Tokens(ttl=60, size=10)
    for n in range(25):
        tokens.put(f"token-{n}", EMPLOYER)
    assert len(tokens._entries) <= 10
    assert tokens.get("token-24") == EMPLOYER
