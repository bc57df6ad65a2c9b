"""IPE eligibility and amount: named, versioned rules, each a pure function a caseworker can read.

A claim is decided by the ruleset in force at its job-loss date, from the facts recorded on the claim
and the contribution history; nothing reads the clock, so a replay decides the same way years later.
Sources, parameters and the documented choices: docs/rules.md.
"""

import calendar
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from decimal import ROUND_HALF_UP, Decimal, localcontext
from types import MappingProxyType
from typing import Any, Literal, get_args

from ipe_claims.domain.contributions import MonthlyDeclaration, days_by_month, months_before, salary_by_month
from ipe_claims.domain.errors import SmigNotInForce
from ipe_claims.domain.motifs import INVOLUNTARY_MOTIF_CODES, get_motif
from ipe_claims.domain.smig import CENTIME, smig_monthly

SCHEME_START = date(2014, 12, 1)  # Loi n° 03-14: job losses from this date on [S3][S4]
LONG_WINDOW_MONTHS = 36
RECENT_WINDOW_MONTHS = 12

VALABLE = "Valable"
REJETE = "Rejeté"

PASSED = "ok"
LOSS_BEFORE_SCHEME = "loss_before_scheme"
MOTIF_NOT_INVOLUNTARY = "motif_not_involuntary"
FILED_BEFORE_LOSS = "filed_before_loss"
FILED_LATE = "filed_late"
INSUFFICIENT_DAYS_36 = "insufficient_days_36"
INSUFFICIENT_DAYS_12 = "insufficient_days_12"

# How the reference salary's average is divided (docs/rules.md, *Amount and duration*): by the months of
# the 36-month window, a month without declaration counting as zero (the reading in force), or only by the
# months with a declared salary (the other reading of "moyenne … des 36 derniers mois", for simulations).
ReferenceDivisor = Literal["36", "months_declared"]
REFERENCE_OVER_WINDOW: ReferenceDivisor = "36"
REFERENCE_OVER_DECLARED: ReferenceDivisor = "months_declared"
REFERENCE_DIVISORS: tuple[str, ...] = get_args(ReferenceDivisor)

# The rejection code of a claim that fails several rules is the first failure in this order:
# does the scheme apply, is the loss involuntary, is the claim admissible in time, then seniority.
REJECTION_ORDER: tuple[str, ...] = (
    LOSS_BEFORE_SCHEME,
    MOTIF_NOT_INVOLUNTARY,
    FILED_BEFORE_LOSS,
    FILED_LATE,
    INSUFFICIENT_DAYS_36,
    INSUFFICIENT_DAYS_12,
)


@dataclass(frozen=True)
class RuleSet:
    """The parameters of one version of the rules; published versions are never edited, only added."""

    version: str
    effective_from: date
    min_days_36: int
    min_days_12: int
    filing_deadline_days: int
    max_days_per_month: int
    salary_ceiling: Decimal
    replacement_rate: Decimal
    duration_months: int
    involuntary_motifs: frozenset[str]
    # Employers declare month M by this day of month M+1; a claim waits for a month not yet overdue.
    declaration_deadline_day: int = 10
    # The insured declares a return to work within this many days (form 310-1-26 says 8; the article 7).
    return_notice_days: int = 8
    # A fixed monthly cap instead of the SMIG in force: only policy simulations set it.
    monthly_cap: Decimal | None = None
    # What the reference salary's sum is divided by: REFERENCE_OVER_WINDOW or REFERENCE_OVER_DECLARED.
    reference_divisor: ReferenceDivisor = REFERENCE_OVER_WINDOW

    def __post_init__(self) -> None:
        if self.reference_divisor not in REFERENCE_DIVISORS:
            raise ValueError(
                f"reference_divisor must be one of {REFERENCE_DIVISORS}: {self.reference_divisor!r}"
            )


# Sorted by effective_from. The first also judges losses before the scheme, so they can be rejected.
RULESETS: tuple[RuleSet, ...] = (
    RuleSet(
        version="ipe-2014.1",
        effective_from=SCHEME_START,
        min_days_36=780,
        min_days_12=260,
        filing_deadline_days=60,
        max_days_per_month=26,
        salary_ceiling=Decimal("6000"),
        replacement_rate=Decimal("0.70"),
        duration_months=6,
        involuntary_motifs=INVOLUNTARY_MOTIF_CODES,
    ),
)


def ruleset_for(job_loss_date: date) -> RuleSet:
    """The rules in force at the job-loss date (the first ruleset for a loss before any of them)."""
    in_force = [ruleset for ruleset in RULESETS if ruleset.effective_from <= job_loss_date]
    return in_force[-1] if in_force else RULESETS[0]


@dataclass(frozen=True)
class ClaimFacts:
    """What the claim states; the motif is checked against the catalogue, as intake does."""

    job_loss_date: date
    filed_on: date  # the Casablanca calendar date of filing
    motif_code: str

    def __post_init__(self) -> None:
        get_motif(self.motif_code)


@dataclass(frozen=True)
class RuleOutcome:
    """One rule's verdict with its reason (FR/AR) and the figures it used, for the audit trail."""

    rule: str
    passed: bool
    code: str  # PASSED, or the rejection code
    reason_fr: str
    reason_ar: str
    figures: Mapping[str, str]

    def __post_init__(self) -> None:
        object.__setattr__(self, "figures", MappingProxyType(dict(self.figures)))

    def to_dict(self) -> dict[str, Any]:
        return {
            "rule": self.rule,
            "passed": self.passed,
            "code": self.code,
            "reason_fr": self.reason_fr,
            "reason_ar": self.reason_ar,
            "figures": dict(self.figures),
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> "RuleOutcome":
        return cls(
            data["rule"], data["passed"], data["code"], data["reason_fr"], data["reason_ar"], data["figures"]
        )


def _dmy(day: date) -> str:
    return day.strftime("%d/%m/%Y")


def judgeable_loss(job_loss_date: date) -> bool:
    """Whether the rules can judge a loss on this date: not before the scheme began (SCHEME_START, loi
    n° 03-14 [S3][S4]). Intake refuses the others before a claim exists; before the floor, a loss in year 1
    became a claim whose 36-month window is not a calendar, and its decision raised on every try."""
    return job_loss_date >= SCHEME_START


def loss_after_scheme_start(facts: ClaimFacts) -> RuleOutcome:
    """The IPE covers job losses from 1 December 2014 on [S3][S4]."""
    loss, start = _dmy(facts.job_loss_date), _dmy(SCHEME_START)
    figures = {"job_loss_date": facts.job_loss_date.isoformat(), "scheme_start": SCHEME_START.isoformat()}
    if facts.job_loss_date >= SCHEME_START:
        return RuleOutcome(
            "loss_after_scheme_start",
            True,
            PASSED,
            f"Perte d'emploi le {loss}, après l'entrée en vigueur de l'IPE le {start}",
            f"فقدان الشغل بتاريخ {loss}، بعد دخول نظام التعويض عن فقدان الشغل حيز التنفيذ في {start}",
            figures,
        )
    return RuleOutcome(
        "loss_after_scheme_start",
        False,
        LOSS_BEFORE_SCHEME,
        f"Perte d'emploi le {loss}, antérieure à l'entrée en vigueur de l'IPE le {start} (loi n° 03-14)",
        f"فقدان الشغل بتاريخ {loss}، قبل دخول نظام التعويض عن فقدان الشغل حيز التنفيذ في {start}"
        " (القانون رقم 03.14)",
        figures,
    )


def involuntary_loss(facts: ClaimFacts, ruleset: RuleSet) -> RuleOutcome:
    """Only a loss "dans des circonstances indépendantes de sa volonté" is covered [S1]."""
    motif = get_motif(facts.motif_code)
    figures = {"motif": motif.code}
    if motif.code in ruleset.involuntary_motifs:
        return RuleOutcome(
            "involuntary_loss",
            True,
            PASSED,
            f"Perte d'emploi involontaire : {motif.label_fr}",
            f"فقدان الشغل لظروف خارجة عن إرادة الأجير: {motif.label_ar}",
            figures,
        )
    return RuleOutcome(
        "involuntary_loss",
        False,
        MOTIF_NOT_INVOLUNTARY,
        f"Perte d'emploi suite à un motif exclu : {motif.label_fr}",
        f"فقدان الشغل لسبب مستثنى من التعويض: {motif.label_ar}",
        figures,
    )


def filed_in_time(facts: ClaimFacts, ruleset: RuleSet) -> RuleOutcome:
    """Filed at most `filing_deadline_days` days after the loss (the loss date is day 0) [S1][S8].

    A filing dated before the loss is refused at intake; should one reach the rules, it fails with
    its own code rather than pass, because no loss had happened when it was filed.
    """
    delay = (facts.filed_on - facts.job_loss_date).days
    limit = ruleset.filing_deadline_days
    figures = {"filed_on": facts.filed_on.isoformat(), "delay_days": str(delay), "deadline_days": str(limit)}
    if delay < 0:
        return RuleOutcome(
            "filed_in_time",
            False,
            FILED_BEFORE_LOSS,
            f"Demande déposée le {_dmy(facts.filed_on)}, avant la date de perte d'emploi",
            f"تم إيداع الطلب بتاريخ {_dmy(facts.filed_on)}، قبل تاريخ فقدان الشغل",
            figures,
        )
    if delay > limit:
        return RuleOutcome(
            "filed_in_time",
            False,
            FILED_LATE,
            f"Demande déposée {delay} jours après la perte d'emploi, au-delà du délai de {limit} jours",
            f"تم إيداع الطلب بعد {delay} يوما من فقدان الشغل، خارج أجل {limit} يوما",
            figures,
        )
    return RuleOutcome(
        "filed_in_time",
        True,
        PASSED,
        f"Demande déposée {delay} jours après la perte d'emploi (délai : {limit} jours)",
        f"تم إيداع الطلب بعد {delay} يوما من فقدان الشغل (الأجل: {limit} يوما)",
        figures,
    )


def _enough_days(rule: str, code: str, declared: int, required: int, months: int) -> RuleOutcome:
    figures = {"declared_days": str(declared), "required": str(required), "window_months": str(months)}
    if declared >= required:
        return RuleOutcome(
            rule,
            True,
            PASSED,
            f"{declared} jours déclarés dans les {months} mois précédant la perte d'emploi"
            f" (minimum : {required})",
            f"{declared} يوما مصرحا بها خلال {months} شهرا السابقة لفقدان الشغل (الحد الأدنى: {required})",
            figures,
        )
    return RuleOutcome(
        rule,
        False,
        code,
        f"Nombre de jours déclarés dans les {months} mois précédant la perte d'emploi ({declared})"
        f" est inférieur à {required}",
        f"عدد الأيام المصرح بها خلال {months} شهرا السابقة لفقدان الشغل ({declared}) أقل من {required}",
        figures,
    )


def days_in_36_months(declared_days: int, ruleset: RuleSet) -> RuleOutcome:
    """At least `min_days_36` days declared in the 36 complete months before the loss month [S1]."""
    return _enough_days(
        "days_in_36_months", INSUFFICIENT_DAYS_36, declared_days, ruleset.min_days_36, LONG_WINDOW_MONTHS
    )


def days_in_12_months(declared_days: int, ruleset: RuleSet) -> RuleOutcome:
    """Of them, at least `min_days_12` in the last 12 complete months, continuous or not [S1][S7]."""
    return _enough_days(
        "days_in_12_months", INSUFFICIENT_DAYS_12, declared_days, ruleset.min_days_12, RECENT_WINDOW_MONTHS
    )


def reference_salary(
    salaries: Mapping[date, Decimal],
    window: Sequence[date],
    divisor: ReferenceDivisor = REFERENCE_OVER_WINDOW,
) -> Decimal:
    """The average monthly salary over the window, by the ruleset's ``reference_divisor``.

    REFERENCE_OVER_WINDOW: a month without declaration counts as zero, the sum is divided by the window's
    months (36). REFERENCE_OVER_DECLARED: divided by the months with a declared salary only. No month to
    divide by gives zero (a Valable claim always has at least 30 declared months).
    """
    if divisor == REFERENCE_OVER_WINDOW:
        months = len(window)
    else:
        months = sum(1 for month in window if salaries.get(month, Decimal(0)) > 0)
    with localcontext() as context:
        context.prec = 28  # independent of the caller's context, so replays agree
        total = sum((salaries.get(month, Decimal(0)) for month in window), Decimal(0))
        return (total / max(months, 1)).quantize(CENTIME, rounding=ROUND_HALF_UP)


def benefit_amount(reference: Decimal, smig: Decimal, replacement_rate: Decimal) -> Decimal:
    """Monthly IPE = replacement rate × reference salary, to the centime, capped at the SMIG [S1]."""
    return min((replacement_rate * reference).quantize(CENTIME, rounding=ROUND_HALF_UP), smig)


def benefit_end(job_loss_date: date, duration_months: int) -> date:
    """The last day covered: entitlement runs from the day after the loss for `duration_months` [S2].

    The same day of the month, clamped to the month's end (a loss on 31 Aug ends on 28/29 Feb).
    """
    index = job_loss_date.year * 12 + job_loss_date.month - 1 + duration_months
    year, month = index // 12, index % 12 + 1
    return date(year, month, min(job_loss_date.day, calendar.monthrange(year, month)[1]))


def _decimal_or_none(value: str | None) -> Decimal | None:
    return None if value is None else Decimal(value)


def _str_or_none(value: Decimal | None) -> str | None:
    return None if value is None else str(value)


@dataclass(frozen=True)
class Decision:
    """The verdict on a claim with every rule's outcome; the benefit figures exist only when Valable.

    `smig_monthly` is None only for a loss before the SMIG table (2012), necessarily rejected.
    """

    situation: str
    ruleset_version: str
    outcomes: tuple[RuleOutcome, ...]
    rejection_code: str | None
    rejection_reason_fr: str | None
    rejection_reason_ar: str | None
    reference_salary: Decimal | None
    monthly_amount: Decimal | None
    duration_months: int | None
    smig_monthly: Decimal | None
    days_36: int
    days_12: int

    def to_dict(self) -> dict[str, Any]:
        """A JSON-able form; Decimals become strings such as "1152.90"."""
        return {
            "situation": self.situation,
            "ruleset_version": self.ruleset_version,
            "outcomes": [outcome.to_dict() for outcome in self.outcomes],
            "rejection_code": self.rejection_code,
            "rejection_reason_fr": self.rejection_reason_fr,
            "rejection_reason_ar": self.rejection_reason_ar,
            "reference_salary": _str_or_none(self.reference_salary),
            "monthly_amount": _str_or_none(self.monthly_amount),
            "duration_months": self.duration_months,
            "smig_monthly": _str_or_none(self.smig_monthly),
            "days_36": self.days_36,
            "days_12": self.days_12,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> "Decision":
        return cls(
            situation=data["situation"],
            ruleset_version=data["ruleset_version"],
            outcomes=tuple(RuleOutcome.from_dict(outcome) for outcome in data["outcomes"]),
            rejection_code=data["rejection_code"],
            rejection_reason_fr=data["rejection_reason_fr"],
            rejection_reason_ar=data["rejection_reason_ar"],
            reference_salary=_decimal_or_none(data["reference_salary"]),
            monthly_amount=_decimal_or_none(data["monthly_amount"]),
            duration_months=data["duration_months"],
            smig_monthly=_decimal_or_none(data["smig_monthly"]),
            days_36=data["days_36"],
            days_12=data["days_12"],
        )


def decide(
    facts: ClaimFacts, history: Sequence[MonthlyDeclaration], ruleset: RuleSet | None = None
) -> Decision:
    """Evaluate every rule in force at the loss; the rejection is the first failure in REJECTION_ORDER.

    ``ruleset`` replaces the rules in force only for a policy simulation, never for a real decision.
    """
    ruleset = ruleset or ruleset_for(facts.job_loss_date)
    window = months_before(facts.job_loss_date, LONG_WINDOW_MONTHS)
    days = days_by_month(history, max_days_per_month=ruleset.max_days_per_month)
    days_36 = sum(days.get(month, 0) for month in window)
    days_12 = sum(days.get(month, 0) for month in window[-RECENT_WINDOW_MONTHS:])
    outcomes = (
        loss_after_scheme_start(facts),
        involuntary_loss(facts, ruleset),
        filed_in_time(facts, ruleset),
        days_in_36_months(days_36, ruleset),
        days_in_12_months(days_12, ruleset),
    )
    try:
        smig: Decimal | None = smig_monthly(facts.job_loss_date)
    except SmigNotInForce:
        smig = None  # a loss years before the scheme, which loss_after_scheme_start rejects
    failures = sorted((o for o in outcomes if not o.passed), key=lambda o: REJECTION_ORDER.index(o.code))
    if failures or smig is None:
        first = failures[0]
        return Decision(
            REJETE,
            ruleset.version,
            outcomes,
            first.code,
            first.reason_fr,
            first.reason_ar,
            None,
            None,
            None,
            smig,
            days_36,
            days_12,
        )
    reference = reference_salary(
        salary_by_month(history, salary_ceiling=ruleset.salary_ceiling), window, ruleset.reference_divisor
    )
    return Decision(
        VALABLE,
        ruleset.version,
        outcomes,
        None,
        None,
        None,
        reference,
        benefit_amount(reference, ruleset.monthly_cap or smig, ruleset.replacement_rate),
        ruleset.duration_months,
        smig,
        days_36,
        days_12,
    )
