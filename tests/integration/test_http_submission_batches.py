"""Claim submissions served in batches (services/claim_intake/submissions.py): concurrent requests share
reads and one transaction, yet each one gets its own answer — a 201 with its access-log row, or its own
refusal, never a 500 — and a batch that cannot reach the database answers every request of it."""

from __future__ import annotations

import asyncio
import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from typing import Any

import httpx
import orjson
import psycopg
import pytest
from psycopg_pool import ConnectionPool, PoolTimeout

from ipe_claims.adapters.accounts import Principal, principal_for_token
from ipe_claims.application.claims import ClaimsApplication
from ipe_claims.application.intake import Refusal, Submission
from ipe_claims.domain.claim import InsuredRecord
from ipe_claims.operations.local import free_port
from ipe_claims.settings import Settings
from services.claim_intake.api import create_app
from services.claim_intake.deps import Bearer, Tokens
from services.claim_intake.errors import status_of
from services.claim_intake.submissions import Submissions
from tests.conftest import CLOCK, TODAY, Insured, declare
from tests.integration.conftest import api_client, served
from tests.integration.test_api import claim_body, employer_of

pytestmark = pytest.mark.integration


def facts(insured: Insured) -> dict[str, Any]:
    return {"affiliation_number": insured.affiliation_number, "immatriculation": insured.immatriculation,
            "cin": insured.cin, "nom": insured.nom, "prenoms": insured.prenoms, "motif_code": "licenciement",
            "job_loss_date": TODAY - timedelta(days=3), "attestation": True, "submitted_by": "t",
            "channel": "http"}  # fmt: skip


def test_a_batch_of_mixed_submissions_answers_each_one_as_if_it_were_alone(
    settings: Settings, claims_app: ClaimsApplication, conn: psycopg.Connection[Any]
) -> None:
    valid = [declare(conn, months=40) for _ in range(20)]
    contested, retried, reused = (declare(conn, months=40) for _ in range(3))
    stranger = declare(conn, months=40)  # declared by an affiliation the employer does not act for
    with api_client(settings, claims_app) as client:
        employer = employer_of(client, conn, *valid, contested, retried, reused)
    retry_key, reused_key = f"retry-{uuid.uuid4()}", f"reused-{uuid.uuid4()}"
    asks: list[tuple[str, dict[str, Any], str | None]] = [("valid", claim_body(one), None) for one in valid]
    asks += [("contested", claim_body(contested), None)] * 6
    asks += [("retried", claim_body(retried), retry_key)] * 4
    # The key's first use is stored before the burst: were valid[0]'s own claim stored first, a reuse of
    # the key for valid[0] would rightly hear open_claim_exists instead.
    first_use = ("reused", claim_body(reused), reused_key)
    asks += [("reused", claim_body(valid[0]), reused_key)]
    asks += [
        ("undeclared", claim_body(valid[1], immatriculation=stranger.immatriculation), None),
        ("nul", claim_body(valid[2], immatriculation="12\x0034"), None),
        ("not_mine", claim_body(stranger), None),
        ("motif", claim_body(valid[3], motif_code="caprice"), None),
    ]
    app = create_app(settings, claims_app)

    with served(app) as url, httpx.Client(base_url=url, timeout=60) as http:

        def post(ask: tuple[str, dict[str, Any], str | None]) -> tuple[str, httpx.Response]:
            kind, body, key = ask
            headers = {**employer.headers, **({"Idempotency-Key": key} if key else {})}
            return kind, http.post("/api/v1/claims", json=body, headers=headers)

        answers = [post(first_use)]
        with ThreadPoolExecutor(max_workers=16) as pool:
            answers += pool.map(post, asks)
        submissions: Submissions = app.state.submissions
        batches, served_count = submissions.batches, submissions.served

    def of(kind: str) -> list[httpx.Response]:
        return [response for k, response in answers if k == kind]

    def codes(kind: str) -> list[Any]:
        return sorted(r.json()["error"]["code"] if r.status_code != 201 else "201" for r in of(kind))

    assert all(response.status_code < 500 for _, response in answers)
    assert codes("valid") == ["201"] * 20
    assert codes("contested") == ["201"] + ["open_claim_exists"] * 5
    assert codes("retried") == ["201"] * 4 and len({r.json()["claim_id"] for r in of("retried")}) == 1
    assert codes("reused") == ["201", "idempotency_key_reused"]
    assert [(r.status_code, r.json()["error"]["code"]) for r in of("undeclared")] == [
        (422, "insured_not_declared")
    ]
    assert [(r.status_code, r.json()["error"]["code"]) for r in of("nul")] == [(400, "invalid_type")]
    assert [(r.status_code, r.json()["error"]["code"]) for r in of("not_mine")] == [(404, "not_found")]
    assert [(r.status_code, r.json()["error"]["code"]) for r in of("motif")] == [(422, "unknown_motif")]
    created = [r for _, r in answers if r.status_code == 201]
    logged = conn.execute(
        "SELECT request_id, claim_id::text FROM access_log WHERE username = %s AND action = 'claim.submit'",
        (employer.username,),
    ).fetchall()
    assert sorted(logged) == sorted((r.headers["X-Request-ID"], r.json()["claim_id"]) for r in created)
    submitted = conn.execute(
        "SELECT count(*) FROM ipe_events WHERE topic LIKE %s AND originator_id = ANY(%s)",
        ("%Claim.Submitted", list({uuid.UUID(r.json()["claim_id"]) for r in created})),
    ).fetchone()
    assert submitted is not None  # 20 valid, and one each for the contested, retried and reused insured
    assert submitted[0] == len({r.json()["claim_id"] for r in created}) == 23
    assert served_count == len(asks) + 1 and batches < served_count  # requests did share batches


def test_a_batch_that_cannot_reach_the_database_answers_every_request_and_the_next_batch_is_served(
    claims_app: ClaimsApplication, conn: psycopg.Connection[Any]
) -> None:
    insured = [declare(conn, months=40) for _ in range(4)]
    caller = Principal(
        f"employer-{uuid.uuid4().hex[:8]}", "employer", frozenset(i.affiliation_number for i in insured)
    )
    unreachable: ConnectionPool[Any] = ConnectionPool(
        f"postgresql://127.0.0.1:{free_port()}/nothing", min_size=1, open=False, timeout=0.5
    )
    unreachable.open(wait=False)
    submissions = Submissions(claims_app, unreachable, Tokens(), CLOCK)
    try:

        async def all_of_them() -> list[Any]:
            return await asyncio.gather(
                *(
                    submissions.file(Bearer("token", caller), _submission(one), uuid.uuid4(), None)
                    for one in insured
                ),
                return_exceptions=True,
            )

        outcomes = asyncio.run(all_of_them())
        assert all(isinstance(outcome, PoolTimeout) for outcome in outcomes)  # the API answers 503
        again = asyncio.run(all_of_them())  # the batches' thread is still serving
        assert all(isinstance(outcome, PoolTimeout) for outcome in again)
    finally:
        submissions.close()
        unreachable.close()
    stored = conn.execute(
        "SELECT count(*) FROM ipe_events WHERE originator_id = ANY(%s)",
        ([InsuredRecord.id_for(one.immatriculation) for one in insured],),
    ).fetchone()
    assert stored is not None and stored[0] == 0


def _submission(insured: Insured) -> Submission:
    return Submission(insured.affiliation_number, insured.immatriculation, facts(insured)["job_loss_date"].isoformat(),
                      "licenciement_economique", True)  # fmt: skip


def test_a_batch_that_loses_a_race_to_another_process_saves_its_submissions_one_by_one(
    settings: Settings, claims_app: ClaimsApplication, conn: psycopg.Connection[Any]
) -> None:
    """Another API process files a claim for one of the batch's insured between the batch's reads and its
    transaction: the transaction conflicts, so each submission is saved alone, looking again — that one
    is refused (409, the other process's claim stands) and the others are created once each."""
    insured = [declare(conn, months=40) for _ in range(3)]
    with api_client(settings, claims_app) as client:
        employer = employer_of(client, conn, *insured)
    token = employer.headers["Authorization"].removeprefix("Bearer ")
    caller = principal_for_token(conn, token)
    assert caller is not None

    class RacedStore:
        """The event store, where the other process wins the first insured's record just before the
        batch's transaction."""

        rival: uuid.UUID | None = None

        def get_many(self, ids: Any) -> Any:
            return claims_app.get_many(ids)

        def first_version(self, claim_id: uuid.UUID) -> Any:
            return claims_app.first_version(claim_id)

        def save_once(self, *aggregates: Any) -> bool:
            if self.rival is None:
                self.rival = claims_app.submit(uuid.uuid4(), CLOCK.now(), **facts(insured[0])).id
            return claims_app.save_once(*aggregates)

    raced = RacedStore()
    pool: ConnectionPool[Any] = ConnectionPool(settings.database.url, min_size=1, max_size=2, open=True)
    submissions = Submissions(raced, pool, Tokens(), CLOCK)
    try:

        async def all_of_them() -> list[Any]:
            return await asyncio.gather(
                *(
                    submissions.file(Bearer(token, caller), _submission(one), uuid.uuid4(), None)
                    for one in insured
                ),
                return_exceptions=True,
            )

        outcomes = asyncio.run(all_of_them())
    finally:
        submissions.close()
        pool.close()
    assert submissions.batches == 1
    refused, *created = outcomes
    assert isinstance(refused, Refusal) and (status_of(refused), refused.code) == (409, "open_claim_exists")
    assert [response.status_code for response in created] == [201, 201]
    submitted = conn.execute(
        "SELECT count(*) FROM ipe_events WHERE topic LIKE %s AND originator_id = ANY(%s)",
        (
            "%Claim.Submitted",
            [raced.rival] + [uuid.UUID(orjson.loads(r.body)["claim_id"]) for r in created],
        ),
    ).fetchone()
    assert submitted is not None and submitted[0] == 3  # the rival's claim and the two others, once each
