"""`ipe relay republish`: the running relay publishes the store again; consumers change nothing twice."""

from __future__ import annotations

from typing import Any

import psycopg
import pytest

from ipe_claims.application.claims import ClaimsApplication
from ipe_claims.audit.history import notifications
from ipe_claims.audit.kafka_source import relay_position
from ipe_claims.audit.replay import count_claim_events, snapshot
from ipe_claims.settings import Settings
from services.eligibility_projector.projector import CONSUMER_NAME as PROJECTOR
from services.notifier.notifier import CONSUMER_NAME as NOTIFIER
from tests.conftest import wait_for
from tests.integration.audit_helpers import busy_run, run_cli, wait_projected
from tests.integration.conftest import Pipeline

pytestmark = pytest.mark.integration


def handled(conn: psycopg.Connection[Any], consumer: str) -> int:
    """Messages a consumer has handled so far: the sum of its stored next offsets."""
    row = conn.execute(
        "SELECT coalesce(sum(next_offset), 0) FROM consumer_positions WHERE consumer = %s", (consumer,)
    ).fetchone()
    return int(row[0]) if row else 0


def effects(conn: psycopg.Connection[Any], ids: list[Any]) -> dict[str, Any]:
    streams = conn.execute(
        "SELECT originator_id, count(*) FROM ipe_events WHERE originator_id = ANY(%s) GROUP BY 1 ORDER BY 1",
        (ids,),
    ).fetchall()
    return {
        "streams": streams,
        "claims": snapshot(conn, "claims"),
        "notifications": {str(i): notifications(conn, i) for i in ids},
    }


def test_republishing_from_the_start_has_no_duplicate_effect(
    settings: Settings, claims_app: ClaimsApplication, pipeline: Pipeline, conn: psycopg.Connection[Any]
) -> None:
    ids = busy_run(conn, claims_app, 6)
    wait_projected(conn, ids)
    wait_for(lambda: all(len(notifications(conn, i)) >= 2 for i in ids), 30, "notifications recorded")
    before = effects(conn, ids)
    position = relay_position(conn)
    republished = count_claim_events(conn, 0, position)
    consumed = {name: handled(conn, name) for name in (PROJECTOR, NOTIFIER)}

    result = run_cli(settings, "relay", "republish", "--from", "0")
    assert result.exit_code == 0, result.output
    assert f"from #{position} to #0" in result.output

    for name in (PROJECTOR, NOTIFIER):
        wait_for(
            lambda n=name: handled(conn, n) >= consumed[n] + republished,
            60,
            f"{name} to see the re-publication",
        )
    wait_for(lambda: relay_position(conn) >= position, 30, "the relay back at its position")
    assert effects(conn, ids) == before
