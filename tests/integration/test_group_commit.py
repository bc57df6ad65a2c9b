"""Concurrent submissions share transactions, and still make exactly one claim per insured."""

from __future__ import annotations

import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, date, datetime, timedelta
from typing import Any

import psycopg
import pytest

from ipe_claims.application import ClaimsApplication
from ipe_claims.domain.claim import Claim, OpenClaimExists
from ipe_claims.group_commit import GroupCommit
from tests.conftest import Insured, declare

pytestmark = pytest.mark.integration


def facts(insured: Insured) -> dict[str, Any]:
    return {"affiliation_number": insured.affiliation_number, "immatriculation": insured.immatriculation,
            "cin": insured.cin, "nom": insured.nom, "prenoms": insured.prenoms, "motif_code": "licenciement",
            "job_loss_date": date.today() - timedelta(days=3), "attestation": True, "submitted_by": "t",
            "channel": "http"}  # fmt: skip


def test_parallel_submissions_are_batched_and_one_claim_per_insured_survives(
    claims_app: ClaimsApplication, conn: psycopg.Connection[Any]
) -> None:
    committer = GroupCommit(claims_app)
    distinct = [declare(conn, months=40) for _ in range(40)]
    contested = declare(conn, months=40)
    requests = [(uuid.uuid4(), facts(insured)) for insured in distinct]
    requests += [(uuid.uuid4(), facts(contested)) for _ in range(20)]
    retried = uuid.uuid4()
    requests += [(retried, facts(declare(conn, months=40)))]
    requests += [(retried, requests[-1][1])] * 4  # the same idempotent request five times

    def attempt(request: tuple[uuid.UUID, dict[str, Any]]) -> Claim | OpenClaimExists:
        try:
            return committer.submit(request[0], datetime.now(UTC), **request[1])
        except OpenClaimExists as refused:
            return refused

    with ThreadPoolExecutor(max_workers=16) as pool:
        outcomes = list(pool.map(attempt, requests))

    assert all(isinstance(outcome, Claim) for outcome in outcomes[:40])
    contested_outcomes = outcomes[40:60]
    winners = [o for o in contested_outcomes if isinstance(o, Claim)]
    assert len(winners) == 1
    assert all(
        isinstance(o, OpenClaimExists) and o.claim_id == winners[0].id
        for o in contested_outcomes
        if o not in winners
    )
    assert {o.id for o in outcomes[60:] if isinstance(o, Claim)} == {retried}
    stored = conn.execute(
        "SELECT count(*) FROM ipe_events WHERE topic LIKE %s AND originator_id = ANY(%s)",
        ("%Claim.Submitted", [o.id for o in outcomes if isinstance(o, Claim)]),
    ).fetchone()[0]
    assert stored == 42  # 40 distinct, one contested winner, one retried claim
    assert committer.batches < committer.saved  # requests did share transactions
