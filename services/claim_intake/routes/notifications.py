"""A claim's messages to the insured: one entry per message and channel, from the delivery log."""

import re
import uuid
from typing import Any

from fastapi import APIRouter, Request

from ipe_claims.domain.notification import NO_CONTACT
from services.claim_intake import access_log
from services.claim_intake.deps import Caller, Db, claim_affiliation, reads_every_claim, request_id

router = APIRouter(prefix="/api/v1/claims")
_TIMES = ("requested_at", "last_attempt_at", "sent_at", "next_attempt_at")
_GAVE_UP = re.compile(r"gave up after \d+ attempts: ")
_REFUSED = re.compile(r"recipient refused|gateway 4\d\d|smtp 5\d\d")


def summary(reason: str | None) -> str | None:
    """What an employer is told of a delivery's reason: its kind, never the mail server's or SMS gateway's own
    words, which may quote the worker's address, number or name. Auditors read the recorded text."""
    if reason is None:
        return None
    text = _GAVE_UP.sub("", reason, count=1)
    if text == NO_CONTACT:
        return NO_CONTACT
    if text.startswith("waiting:"):
        return "channel_not_configured"
    if _REFUSED.match(text):
        return "recipient_refused"
    if "unreachable" in text:
        return "provider_unreachable"
    return "provider_error"


@router.get("/{claim_id}/notifications")
def notifications(claim_id: str, caller: Caller, conn: Db, request: Request) -> list[dict[str, Any]]:
    """The claim's employer and auditors see what was sent, how, and when; never the worker's address.
    What the insured was told (deposit, acceptance, rejection) is about them: the read is access-logged."""
    claim = claim_affiliation(conn, caller, claim_id)
    found = deliveries(conn, claim, raw=reads_every_claim(caller))
    access_log.record(conn, caller, "claim.notifications", [{"claim_id": claim}], request_id(request))
    return found


def deliveries(conn: Any, claim: uuid.UUID, raw: bool = False) -> list[dict[str, Any]]:
    """The claim's deliveries, oldest first, with the message's subjects (no address of the worker); the
    reasons as recorded for auditors (``raw``), else their ``summary``."""
    found = conn.execute(
        "SELECT d.kind, d.channel, d.status, d.attempts, d.possible_duplicates, d.message_id, d.reason, "
        "d.requested_at, d.last_attempt_at, d.sent_at, d.next_attempt_at, d.event_id, "
        "n.subject_fr, n.subject_ar FROM deliveries d LEFT JOIN notifications n ON n.event_id = d.event_id "
        "WHERE d.claim_id = %s ORDER BY d.requested_at, d.channel",
        (claim,),
    ).fetchall()
    return [
        {**row, "event_id": str(row["event_id"]), "reason": row["reason"] if raw else summary(row["reason"])}
        | {name: row[name].isoformat() if row[name] else None for name in _TIMES}
        for row in found
    ]
