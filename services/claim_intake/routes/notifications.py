"""A claim's messages to the insured: one entry per message and channel, from the delivery log."""

import uuid
from typing import Any

from fastapi import APIRouter, Request

from services.claim_intake import access_log
from services.claim_intake.deps import Caller, Db, claim_affiliation, request_id

router = APIRouter(prefix="/api/v1/claims")
_TIMES = ("requested_at", "last_attempt_at", "sent_at", "next_attempt_at")


@router.get("/{claim_id}/notifications")
def notifications(claim_id: str, caller: Caller, conn: Db, request: Request) -> list[dict[str, Any]]:
    """The claim's employer and auditors see what was sent, how, and when; never the worker's address.
    What the insured was told (deposit, acceptance, rejection) is about them: the read is access-logged."""
    claim = claim_affiliation(conn, caller, claim_id)
    found = deliveries(conn, claim)
    access_log.record(conn, caller, "claim.notifications", [{"claim_id": claim}], request_id(request))
    return found


def deliveries(conn: Any, claim: uuid.UUID) -> list[dict[str, Any]]:
    """The claim's deliveries, oldest first, with the message's subjects (no address of the worker)."""
    found = conn.execute(
        "SELECT d.kind, d.channel, d.status, d.attempts, d.possible_duplicates, d.message_id, d.reason, "
        "d.requested_at, d.last_attempt_at, d.sent_at, d.next_attempt_at, d.event_id, "
        "n.subject_fr, n.subject_ar FROM deliveries d LEFT JOIN notifications n ON n.event_id = d.event_id "
        "WHERE d.claim_id = %s ORDER BY d.requested_at, d.channel",
        (claim,),
    ).fetchall()
    return [
        {**row, "event_id": str(row["event_id"])}
        | {name: row[name].isoformat() if row[name] else None for name in _TIMES}
        for row in found
    ]
