"""Policy simulation: every claim of a period decided again under another rule set, in isolation.

Nothing is written: the claims come from the store, the histories from the declarations, and the
alternative decisions are compared in memory with the decisions on record. A rule-set file (TOML) names
a version and the parameters it changes from the rules in force; anything else is refused clearly.
A claim's cost counts the months it is granted, as the report does (``analytics.claim_facts``): all of
them, or those a return to work left due, with the return's date, under either rule set.
"""

from __future__ import annotations

import dataclasses
import tomllib
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

import psycopg

from ipe_claims.adapters.declarations import contribution_history
from ipe_claims.application.claims import ClaimsApplication
from ipe_claims.domain.dates import CASABLANCA
from ipe_claims.domain.lifecycle import ReturnToWork
from ipe_claims.domain.motifs import MOTIFS
from ipe_claims.domain.review import ForceMajeure, decide_reviewed
from ipe_claims.domain.rules import (
    REFERENCE_DIVISORS,
    VALABLE,
    ClaimFacts,
    Decision,
    RuleSet,
    benefit_end,
    ruleset_for,
)

_INTEGERS = ("min_days_36", "min_days_12", "filing_deadline_days", "max_days_per_month", "duration_months")
_AMOUNTS = ("salary_ceiling", "replacement_rate", "monthly_cap")


class RuleFileError(ValueError):
    """A rule-set file that cannot be used; the message names the file's problem."""


def load_rules(path: Path) -> dict[str, Any]:
    """The parameters a rule-set file changes, checked; apply them with ``alternative``."""
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise RuleFileError(f"{path}: not a readable TOML file ({exc})") from None
    allowed = {"version", "involuntary_motifs", "reference_divisor", *_INTEGERS, *_AMOUNTS}
    unknown = sorted(set(data) - allowed)
    if unknown:
        raise RuleFileError(
            f"{path}: unknown parameter(s) {', '.join(unknown)}; allowed: {', '.join(sorted(allowed))}"
        )
    if not isinstance(data.get("version"), str) or not data["version"].strip():
        raise RuleFileError(f"{path}: 'version' (a name for this rule set) is required")
    changes: dict[str, Any] = {"version": data["version"].strip()}
    for name in _INTEGERS:
        if name in data:
            if not isinstance(data[name], int) or isinstance(data[name], bool) or data[name] < 0:
                raise RuleFileError(f"{path}: '{name}' must be a whole number ≥ 0")
            changes[name] = data[name]
    for name in _AMOUNTS:
        if name in data:
            try:
                amount = Decimal(str(data[name]))
            except InvalidOperation:
                raise RuleFileError(f"{path}: '{name}' must be a number") from None
            if not amount.is_finite() or amount <= 0 or (name == "replacement_rate" and amount > 1):
                raise RuleFileError(f"{path}: '{name}' is out of range")
            changes[name] = amount
    if "involuntary_motifs" in data:
        motifs = data["involuntary_motifs"]
        if not isinstance(motifs, list) or not all(code in MOTIFS for code in motifs):
            raise RuleFileError(
                f"{path}: 'involuntary_motifs' must list motif codes among {', '.join(MOTIFS)}"
            )
        changes["involuntary_motifs"] = frozenset(motifs)
    if "reference_divisor" in data:
        if data["reference_divisor"] not in REFERENCE_DIVISORS:
            raise RuleFileError(
                f"{path}: 'reference_divisor' must be one of {', '.join(map(repr, REFERENCE_DIVISORS))}"
            )
        changes["reference_divisor"] = data["reference_divisor"]
    if changes.get("min_days_12", 0) > changes.get("min_days_36", 10**6):
        raise RuleFileError(f"{path}: 'min_days_12' cannot exceed 'min_days_36'")
    return changes


def alternative(in_force: RuleSet, changes: dict[str, Any]) -> RuleSet:
    return dataclasses.replace(in_force, **changes)


def months_granted(decision: Decision, job_loss_date: date, returned: ReturnToWork | None) -> int:
    """The months a decision grants: its duration, or those a return to work left due (a month of
    entitlement started before the return is due in full, as ``lifecycle.return_to_work`` counts them)."""
    if decision.situation != VALABLE or decision.duration_months is None:
        return 0
    duration = decision.duration_months
    if returned is None:
        return duration
    last_day = returned.benefit_end
    return next((k for k in range(duration + 1) if benefit_end(job_loss_date, k) >= last_day), duration)


@dataclass
class Tally:
    claims: int = 0
    to_valable: int = 0
    to_rejete: int = 0
    monthly_live: Decimal = Decimal(0)
    monthly_alternative: Decimal = Decimal(0)
    total_live: Decimal = Decimal(0)
    total_alternative: Decimal = Decimal(0)

    def add(self, live: Decision, alt: Decision, job_loss_date: date, returned: ReturnToWork | None) -> None:
        self.claims += 1
        was, now = live.situation == VALABLE, alt.situation == VALABLE
        self.to_valable += int(now and not was)
        self.to_rejete += int(was and not now)
        for decision, monthly, total in ((live, "monthly_live", "total_live"),
                                         (alt, "monthly_alternative", "total_alternative")):  # fmt: skip
            if decision.situation == VALABLE and decision.monthly_amount is not None:
                setattr(self, monthly, getattr(self, monthly) + decision.monthly_amount)
                months = months_granted(decision, job_loss_date, returned)
                setattr(self, total, getattr(self, total) + decision.monthly_amount * months)

    @property
    def total_difference(self) -> Decimal:
        return self.total_alternative - self.total_live


@dataclass
class SimulationReport:
    version: str
    period: tuple[date | None, date | None]
    overall: Tally = field(default_factory=Tally)
    by_motif: dict[str, Tally] = field(default_factory=lambda: defaultdict(Tally))
    by_region: dict[str, Tally] = field(default_factory=lambda: defaultdict(Tally))
    by_month: dict[str, Tally] = field(default_factory=lambda: defaultdict(Tally))
    changed: list[tuple[str, str, str]] = field(default_factory=list)  # claim id, live, alternative


def simulate(conn: psycopg.Connection[Any], store: ClaimsApplication, changes: dict[str, Any],
             start: date | None = None, end: date | None = None) -> SimulationReport:  # fmt: skip
    report = SimulationReport(changes["version"], (start, end))
    rows = conn.execute(
        "SELECT c.claim_id, coalesce(a.region, 'inconnue') FROM claims c "
        "LEFT JOIN affiliations a USING (affiliation_number) WHERE c.situation <> 'En cours' "
        "AND (%(start)s::date IS NULL OR c.job_loss_date >= %(start)s) "
        "AND (%(end)s::date IS NULL OR c.job_loss_date <= %(end)s) ORDER BY c.job_loss_date, c.claim_id",
        {"start": start, "end": end},
    ).fetchall()
    for claim_id, region in rows:
        claim = store.get_claim(claim_id)
        if claim.decision is None:
            continue
        facts = ClaimFacts(
            claim.job_loss_date, claim.filed_at.astimezone(CASABLANCA).date(), claim.motif_code
        )
        history = contribution_history(conn, claim.immatriculation, claim.job_loss_date)
        live = claim.decision
        if claim.dossier_expired_on is not None:
            alt = live  # ended by its dossier, not by the rules: no rule set changes that
        else:  # the agents' rulings stand under any rule set: what they replace stays replaced
            plea = ForceMajeure(claim.force_majeure.reason) if claim.force_majeure is not None else None
            alt = decide_reviewed(facts, history, motif_ruling=claim.motif_ruling, force_majeure=plea,
                                  ruleset=alternative(ruleset_for(claim.job_loss_date), changes))  # fmt: skip
        for tally in (report.overall, report.by_motif[claim.motif_code], report.by_region[region],
                      report.by_month[claim.job_loss_date.strftime("%Y-%m")]):  # fmt: skip
            tally.add(live, alt, claim.job_loss_date, claim.returned)
        if live.situation != alt.situation:
            report.changed.append((str(claim_id), live.situation, alt.situation))
    return report
