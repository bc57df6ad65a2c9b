"""A claim's monthly payments: scheduled, issued (and when) or cancelled."""

from decimal import Decimal
from typing import Any

from fastapi import APIRouter, Request

from ipe_claims.domain.claim import Claim
from services.claim_intake import access_log
from services.claim_intake.deps import Caller, Db, DecimalJSONResponse, Store, claim_affiliation, request_id

router = APIRouter(prefix="/api/v1/claims")


def payment_items(claim: Claim) -> list[dict[str, Any]]:
    """Month by month, as the claim's events left each payment."""
    return [
        {"month": line.month, "amount": Decimal(line.amount_centimes).scaleb(-2), "status": line.status,
         "issued_on": line.issued_on.isoformat() if line.issued_on else None}
        for line in sorted(claim.payments.values(), key=lambda line: line.month)
    ]  # fmt: skip


@router.get("/{claim_id}/payments")
def payments(claim_id: str, caller: Caller, conn: Db, store: Store, request: Request) -> DecimalJSONResponse:
    """The claim's employer, agents and auditors (others: 404). Amounts are the insured's benefit: on record."""
    claim = store.get_claim(claim_affiliation(conn, caller, claim_id))
    access_log.record(conn, caller, "claim.payments", [{"claim_id": claim.id, "affiliation_number":
                      claim.affiliation_number, "immatriculation": claim.immatriculation}], request_id(request))  # fmt: skip
    return DecimalJSONResponse({"items": payment_items(claim)})
