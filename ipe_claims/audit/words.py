"""Each claim event in one sentence, for an auditor reading ``ipe audit claim`` (the payload has the figures).

Never a RIB's digits: a DocumentRecorded event holds them (the store is their only record), the sentence
and the payload shown (``shown_payload``) say only that the account was recorded.
"""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal
from typing import Any

from ipe_claims.domain.claim import Claim
from ipe_claims.domain.motifs import MOTIFS

RIB_WITHHELD = "withheld (24 digits, kept in the event store only)"


def shown_payload(event: Any, attributes: dict[str, Any]) -> dict[str, Any]:
    """The event's attributes as an auditor sees them: a RIB's digits replaced by a note."""
    if isinstance(event, Claim.DocumentRecorded) and attributes.get("rib") is not None:
        return attributes | {"rib": RIB_WITHHELD}
    return attributes


def in_words(event: Any) -> str:
    """What happened, in a sentence; the event's class name for an event this module does not know."""
    say = _SENTENCES.get(type(event))
    return say(event) if say else type(event).__qualname__


def _mad(amount: Any) -> str:
    return f"{Decimal(str(amount)):.2f} MAD"


def _centimes(amount: int) -> str:
    return _mad(Decimal(amount) / 100)


def _months(months: list[str]) -> str:
    return ", ".join(months) if months else "none"


def _submitted(e: Any) -> str:
    motif = MOTIFS.get(e.motif_code)
    label = motif.label_fr if motif else e.motif_code
    return f"Filed ({e.channel}) under the motif « {label} », job lost on {e.job_loss_date.isoformat()}"


def _decided(e: Any) -> str:
    decision: dict[str, Any] = e.decision
    situation = decision.get("situation")
    if decision.get("monthly_amount") is not None:
        return (
            f"Decided {situation}: {_mad(decision['monthly_amount'])} a month for "
            f"{decision.get('duration_months')} months (rule set {decision.get('ruleset_version')})"
        )
    reason = decision.get("rejection_reason_fr")
    return f"Decided {situation}" + (f": {reason}" if reason else "")


def _document(e: Any) -> str:
    said = f"Piece « {e.kind} » recorded as {e.status}"
    if e.reason:
        said += f" ({e.reason})"
    if e.rib is not None:
        said += ", bank account recorded (digits withheld)"
    if e.sha256:
        said += f", scan {e.sha256[:12]}…"
    return said


def _review(e: Any) -> str:
    ruled = "involuntary" if e.involuntary else "voluntary"
    return f"An agent ruled the job loss {ruled}: {e.reason}"


_SENTENCES: dict[type, Callable[[Any], str]] = {
    Claim.Submitted: _submitted,
    Claim.Decided: _decided,
    Claim.AwaitingDeclaration: lambda e: (
        f"The decision waits for the declaration of {e.month:%Y-%m} (due by {e.due.isoformat()})"
    ),
    Claim.DeclarationWaitExpired: lambda e: (
        f"The wait for the declaration of {e.month:%Y-%m} expired (seen {e.observed_on.isoformat()})"
    ),
    Claim.ReturnedToWork: lambda e: (
        f"Returned to work on {e.return_date.isoformat()} (declared {e.declared_on.isoformat()}"
        f"{', late' if e.late_notice else ''}): {e.months_due} months due, benefit ends "
        f"{e.benefit_end.isoformat()}"
    ),
    Claim.DocumentRecorded: _document,
    Claim.ReviewRuled: _review,
    Claim.ForceMajeureGranted: lambda e: f"An agent excused the late filing (force majeure): {e.reason}",
    Claim.DossierExpired: lambda e: (
        f"The dossier was incomplete on its deadline {e.deadline.isoformat()} (seen {e.observed_on.isoformat()})"
    ),
    Claim.DossierReminderDue: lambda e: (
        f"The worker was to be reminded of the pieces still owed ({', '.join(e.owed)}) before the deadline "
        f"{e.deadline.isoformat()} (seen {e.observed_on.isoformat()})"
    ),
    Claim.PaymentsScheduled: lambda e: (
        f"Payments scheduled for {_months(e.months)}, {_centimes(e.amount_centimes)} each"
    ),
    Claim.PaymentIssued: lambda e: (
        f"Payment of {e.month} issued: {_centimes(e.amount_centimes)} in the bank file {e.file_id}"
    ),
    Claim.PaymentsCancelled: lambda e: f"Payments cancelled for {_months(e.months)}",
}
