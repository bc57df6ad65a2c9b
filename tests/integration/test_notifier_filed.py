"""The notifier reads whom a claim concerns from its ClaimSubmitted event alone (fast-decoded), and
its messages carry the same facts the whole aggregate would give."""

from __future__ import annotations

import random
from types import SimpleNamespace
from typing import Any

import psycopg
import pytest

from ipe_claims.adapters.avro import AvroCodec
from ipe_claims.adapters.claim_messages import to_message
from ipe_claims.adapters.notification_store import StoredNotifications
from ipe_claims.application.claims import ClaimsApplication
from ipe_claims.domain.dates import CASABLANCA
from services.notifier.messages import MessageRenderer
from services.notifier.notifier import Notifier
from tests.integration.test_replay_fold import along_a_path, own_store

pytestmark = pytest.mark.integration
__all__ = ["own_store"]  # the fixture: claims in a store of their own, out of the shared pipeline's way
FILED = ("immatriculation", "nom", "prenoms", "affiliation_number", "job_loss_date", "filed_at", "motif_code")


def test_the_filed_facts_equal_the_aggregates_and_reach_every_message(
    own_store: ClaimsApplication, codec: AvroCodec, conn: psycopg.Connection[Any]
) -> None:
    rng = random.Random(5)
    claims = [along_a_path(rng, n) for n in range(6)]  # every path: waiting, rejected, valid, returned
    own_store.save(*claims)
    events = [event for claim in claims for event in own_store.events.get(claim.id)]
    notifier = Notifier(own_store, codec, MessageRenderer())

    filed = StoredNotifications(own_store).filed({claim.id for claim in claims})
    assert filed.keys() == {claim.id for claim in claims}
    for claim in claims:
        assert {name: filed[claim.id][name] for name in FILED} == {
            name: getattr(claim, name) for name in FILED
        }

    records = [SimpleNamespace(value=to_message(codec, event).value) for event in events]
    with conn.transaction():
        notifier.handle_batch(conn, records)
    for claim in claims:
        rows = conn.execute(
            "SELECT kind, body_fr, body_ar FROM notifications WHERE claim_id = %s", (claim.id,)
        ).fetchall()
        kinds = [kind for kind, *_ in rows]
        assert "deposited" in kinds and len(kinds) >= 2 - (claim.decision is None)
        for kind, body_fr, body_ar in rows:
            assert f"{claim.prenoms} {claim.nom}" in body_fr and f"{claim.prenoms} {claim.nom}" in body_ar
            if kind == "deposited":
                assert claim.job_loss_date.strftime("%d/%m/%Y") in body_fr
                assert claim.filed_at.astimezone(CASABLANCA).strftime("%d/%m/%Y") in body_fr
                assert claim.affiliation_number in body_ar
