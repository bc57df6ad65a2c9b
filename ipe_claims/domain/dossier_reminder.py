"""A reminder before the dossier's deadline: a Valable claim whose worker still owes pieces a few days before
it would end Rejeté "dossier incomplet" (about 3 000 claims in 2016 [S8]) is recorded as due, once.

The day it was seen due (``observed_on``) is in the event: the clock enters the log there, and the notifier
words the reminder from the claim at that event, so a replay rebuilds and says the same. The window is
``reminder_days_before_deadline`` (a choice, docs/rules.md "After the decision") up to the deadline itself,
the worker's last day.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

from ipe_claims.domain.dossier import Dossier, DossierRules
from ipe_claims.domain.errors import CodedError
from ipe_claims.domain.rules import VALABLE, Decision

# ReminderNotDue codes
CLAIM_NOT_VALABLE = "claim_not_valable"
ALREADY_REMINDED = "already_reminded"
NOTHING_OWED = "nothing_owed"
OUTSIDE_WINDOW = "outside_reminder_window"


class ReminderNotDue(CodedError):
    """No reminder to record: the claim is not Valable, was reminded already, the worker owes no piece, or
    the day is outside the window before the deadline."""


@dataclass(frozen=True)
class DossierReminder:
    deadline: date
    observed_on: date
    owed: tuple[str, ...]  # the kinds the worker still has to bring


def in_window(rules: DossierRules, deadline: date, observed_on: date) -> bool:
    """From ``reminder_days_before_deadline`` days before the deadline up to the deadline, both included."""
    return deadline - timedelta(days=rules.reminder_days_before_deadline) <= observed_on <= deadline


def dossier_reminder(
    decision: Decision | None,
    reminded_on: date | None,
    rules: DossierRules,
    dossier: Dossier,
    deadline: date,
    observed_on: date,
) -> DossierReminder:
    """The reminder due on ``observed_on`` for a claim with ``decision`` (reminded on ``reminded_on``, if ever)
    whose dossier stands as ``dossier``; raises ReminderNotDue saying why there is none."""
    if decision is None or decision.situation != VALABLE:
        raise ReminderNotDue(CLAIM_NOT_VALABLE, "only a Valable claim's worker is reminded of the dossier")
    if reminded_on is not None:
        raise ReminderNotDue(ALREADY_REMINDED, f"the worker was reminded on {reminded_on.isoformat()}")
    if not dossier.owed:
        raise ReminderNotDue(
            NOTHING_OWED, "the worker owes no piece: the dossier is complete or with the agency"
        )
    if not in_window(rules, deadline, observed_on):
        raise ReminderNotDue(
            OUTSIDE_WINDOW,
            f"{observed_on.isoformat()} is outside the {rules.reminder_days_before_deadline} days before the "
            f"deadline ({deadline.isoformat()})",
        )
    return DossierReminder(deadline, observed_on, tuple(piece.kind for piece in dossier.owed))
