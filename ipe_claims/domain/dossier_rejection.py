"""A dossier still incomplete after its deadline ends the claim: a new decision, Rejeté "dossier incomplet".

The fund counts it among its rejections (about 3 000 of them in 2016 [S8]). The decision keeps the rule
outcomes it replaces and adds the dossier's, so the audit trail shows both the entitlement the claim had and
why it ended; like every rejection it carries no amount.
"""

from __future__ import annotations

import dataclasses
from datetime import date

from ipe_claims.domain.dossier import Dossier
from ipe_claims.domain.errors import CodedError
from ipe_claims.domain.rules import REJETE, VALABLE, Decision, RuleOutcome

DOSSIER_INCOMPLETE = "dossier_incomplete"
# DossierNotExpired codes
CLAIM_NOT_VALABLE = "claim_not_valable"
DOSSIER_NOT_EXPIRED = "dossier_not_expired"


class DossierNotExpired(CodedError):
    """The claim cannot end for an incomplete dossier: it is not Valable, or its dossier has not expired."""


def _dmy(day: date) -> str:
    return day.strftime("%d/%m/%Y")


def dossier_incomplete_outcome(dossier: Dossier, deadline: date, observed_on: date) -> RuleOutcome:
    """The failed rule `dossier_complete`: which pieces were not verified by the deadline."""
    pieces = dossier.not_verified
    return RuleOutcome(
        "dossier_complete",
        False,
        DOSSIER_INCOMPLETE,
        f"Dossier incomplet au {_dmy(deadline)} : " + " ; ".join(piece.label_fr for piece in pieces),
        f"ملف غير مكتمل بتاريخ {_dmy(deadline)}: " + "؛ ".join(piece.label_ar for piece in pieces),
        {
            "deadline": deadline.isoformat(),
            "observed_on": observed_on.isoformat(),
            "not_verified": ",".join(piece.kind for piece in pieces),
        },
    )


def reject_incomplete_dossier(
    decision: Decision, dossier: Dossier, deadline: date, observed_on: date
) -> Decision:
    """The decision that ends a Valable claim whose dossier was still incomplete after ``deadline``."""
    if decision.situation != VALABLE:
        raise DossierNotExpired(CLAIM_NOT_VALABLE, "only a valid claim can end for an incomplete dossier")
    if dossier.complete or observed_on <= deadline:
        raise DossierNotExpired(
            DOSSIER_NOT_EXPIRED,
            f"the dossier is complete or its deadline ({deadline.isoformat()}) has not passed",
        )
    outcome = dossier_incomplete_outcome(dossier, deadline, observed_on)
    return dataclasses.replace(
        decision,
        situation=REJETE,
        outcomes=(*decision.outcomes, outcome),
        rejection_code=outcome.code,
        rejection_reason_fr=outcome.reason_fr,
        rejection_reason_ar=outcome.reason_ar,
        reference_salary=None,
        monthly_amount=None,
        duration_months=None,
    )
