"""The reminder before the dossier's deadline on the real pipeline: the projector's sweep, on a clock inside
the window, records ClaimDossierReminderDue once across two sweeps; the read model keeps the day it was seen
due (``dossiers.reminded_on``), as the replay rebuilds it; the notifier stores the reminder, the pieces still
owed and the deadline in both languages. The sweep also reminds other tests' claims due that day: the
assertions are about this claim only."""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Any

import psycopg
import pytest

from ipe_claims.application.claims import ClaimsApplication
from ipe_claims.application.dossier import RecordDocument
from ipe_claims.domain import dossier
from ipe_claims.domain.claim import Claim
from services.eligibility_projector.projector import EligibilityProjector
from tests.conftest import CLOCK, TODAY, wait_for
from tests.integration.conftest import Pipeline
from tests.integration.test_dossier import valid_claim
from tests.integration.test_dossier_notifications import texts
from tests.integration.test_replay_dossier import at_day, dossier_differences
from tests.unit.test_dossier_service import MemoryScans

pytestmark = pytest.mark.integration
LOSS = TODAY - timedelta(days=50)  # the deadline is then 30 days after the acceptance, not loss + 60


def accepted(claims_app: ClaimsApplication, conn: psycopg.Connection[Any]) -> uuid.UUID:
    """A Valable claim whose worker has an email address, its dossier row in the read model."""
    return valid_claim(claims_app, conn, loss=LOSS, email=True)[1]


def reminders(claims_app: ClaimsApplication, claim_id: uuid.UUID) -> list[Claim.DossierReminderDue]:
    return [e for e in claims_app.events.get(claim_id) if isinstance(e, Claim.DossierReminderDue)]


def test_the_sweep_reminds_the_worker_once_and_the_notifier_tells_the_pieces_owed(
    pipeline: Pipeline, claims_app: ClaimsApplication, conn: psycopg.Connection[Any]
) -> None:
    claim_id = accepted(claims_app, conn)
    RecordDocument(claims_app, MemoryScans(), CLOCK)(
        claim_id, dossier.CIN, "verified", agent="agent.r", agency="CASA-01"
    )
    deadline = claims_app.get_claim(claim_id).dossier_deadline
    day = deadline - timedelta(days=10)  # the window's first day (dossier-2014.1)

    EligibilityProjector(claims_app, pipeline.codec, at_day(day - timedelta(days=1))).remind_dossiers(conn)
    assert reminders(claims_app, claim_id) == []  # not yet in the window

    sweep = EligibilityProjector(claims_app, pipeline.codec, at_day(day))
    sweep.remind_dossiers(conn)
    sweep.remind_dossiers(conn)  # again, maybe before the read model has the first: nothing more
    (reminder,) = reminders(claims_app, claim_id)
    assert (reminder.deadline, reminder.observed_on) == (deadline, day)
    assert reminder.owed == [dossier.FORMULAIRE, dossier.PV_INSPECTION, dossier.RIB, dossier.ANAPEC]

    wait_for(
        lambda: (
            conn.execute("SELECT reminded_on FROM dossiers WHERE claim_id = %s", (claim_id,)).fetchone()
            == (day,)
        ),
        what="the reminder in the dossier's read model",
    )
    sweep.remind_dossiers(conn)
    assert len(reminders(claims_app, claim_id)) == 1

    subject_fr, body_fr, subject_ar, body_ar = wait_for(
        lambda: texts(conn, claim_id, "dossier_reminder"), what="the reminder in the delivery log"
    )
    labels = {rule.kind: (rule.label_fr, rule.label_ar) for rule in dossier.DOSSIER_RULES[-1].documents}
    shown = deadline.strftime("%d/%m/%Y")
    assert subject_fr.startswith("Rappel") and shown in subject_fr and shown in subject_ar
    assert f"- {labels[dossier.RIB][0]}" in body_fr and f"- {labels[dossier.RIB][1]}" in body_ar
    assert f"- {labels[dossier.CIN][0]}" not in body_fr  # verified before the reminder
    (count,) = conn.execute(
        "SELECT count(*) FROM notifications WHERE claim_id = %s AND kind = 'dossier_reminder'", (claim_id,)
    ).fetchone() or (0,)
    assert count == 1
    assert dossier_differences(conn, claims_app, [claim_id]) == []
