"""`ipe replay`: a rebuild from the log equals the live read models, swaps in atomically, repeats
identically, and reads the same from Kafka as from the store."""

from __future__ import annotations

from typing import Any

import psycopg
import pytest

from ipe_claims.adapters.avro import AvroCodec
from ipe_claims.application.claims import ClaimsApplication
from ipe_claims.audit.kafka_source import expected_on_kafka, kafka_records
from ipe_claims.audit.replay import Shadow, last_claim_position, read_models, snapshot, store_records
from ipe_claims.settings import Settings
from tests.conftest import wait_for
from tests.integration.audit_helpers import busy_run, run_cli, wait_projected
from tests.integration.conftest import Pipeline

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def busy(settings: Settings, claims_app: ClaimsApplication, pipeline: Pipeline) -> list[Any]:
    with psycopg.connect(settings.database.url, autocommit=True) as conn:
        ids = busy_run(conn, claims_app, 30)
        wait_projected(conn, ids)
    return ids


def test_verify_is_clean_after_a_busy_run(settings: Settings, busy: list[Any]) -> None:
    result = run_cli(settings, "replay", "--verify")
    assert result.exit_code == 0, result.output
    assert "No difference" in result.output


def test_verify_reports_a_live_row_that_differs_then_replay_repairs_it(
    settings: Settings, conn: psycopg.Connection[Any], busy: list[Any]
) -> None:
    valid = conn.execute(
        "SELECT claim_id, monthly_amount FROM claims WHERE claim_id = ANY(%s) AND situation = 'Valable' "
        "AND claim_id <> %s LIMIT 1",
        (busy, busy[0]),
    ).fetchone()
    assert valid is not None
    conn.execute("UPDATE claims SET monthly_amount = 1.00 WHERE claim_id = %s", (valid[0],))
    conn.execute("DELETE FROM claims WHERE claim_id = %s", (busy[0],))

    result = run_cli(settings, "replay", "--verify")
    assert result.exit_code == 1, result.output
    assert f"claim_id={valid[0]}" in result.output and "monthly_amount" in result.output
    assert f"claims [claim_id={busy[0]}]: in the rebuild, absent from the live table" in result.output

    assert run_cli(settings, "replay").exit_code == 0
    amount = conn.execute("SELECT monthly_amount FROM claims WHERE claim_id = %s", (valid[0],)).fetchone()
    assert amount == (valid[1],)
    assert conn.execute("SELECT 1 FROM claims WHERE claim_id = %s", (busy[0],)).fetchone() == (1,)
    assert run_cli(settings, "replay", "--verify").exit_code == 0


def test_a_rebuild_of_a_rebuild_is_identical_row_for_row(
    settings: Settings, conn: psycopg.Connection[Any], busy: list[Any]
) -> None:
    assert run_cli(settings, "replay").exit_code == 0
    first = {table: snapshot(conn, table) for table in read_models()}
    assert run_cli(settings, "replay").exit_code == 0
    assert {table: snapshot(conn, table) for table in read_models()} == first
    assert len(first["claims"]) >= len(busy)


def test_replay_from_kafka_equals_replay_from_the_store(
    settings: Settings, claims_app: ClaimsApplication, busy: list[Any]
) -> None:
    with psycopg.connect(settings.database.url, autocommit=True) as conn:
        head = last_claim_position(conn)
        wait_for(lambda: expected_on_kafka(conn)[0] >= head, 30, "the relay to publish everything")
        position, expected = expected_on_kafka(conn)
        with (
            psycopg.connect(settings.database.url, autocommit=True) as a,
            psycopg.connect(settings.database.url, autocommit=True) as b,
            Shadow(a, read_models()) as from_store,
            Shadow(b, read_models()) as from_kafka,
        ):
            from_store.apply(store_records(claims_app, 0, position))
            from_kafka.apply(kafka_records(settings, AvroCodec(settings.schemas_dir), expected))
            assert from_kafka.applied == from_store.applied == expected
            for table in read_models():
                rows = [
                    conn.execute(
                        f"SELECT * FROM {schema}.{table} EXCEPT ALL SELECT * FROM {other}.{table}"
                    ).fetchall()
                    for schema, other in (
                        (from_store.schema, from_kafka.schema),
                        (from_kafka.schema, from_store.schema),
                    )
                ]
                assert rows == [[], []]
                count = conn.execute(f"SELECT count(*) FROM {from_store.schema}.{table}").fetchone()
                assert count and count[0] >= (len(busy) if table != "dossier_documents" else 0)

    result = run_cli(settings, "replay", "--from-kafka", "--verify")
    assert result.exit_code == 0, result.output
