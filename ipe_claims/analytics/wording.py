"""The overview's tables as people read them: French headings instead of the views' column names, rules
named in words instead of their codes, shares in per cent, ``<5`` where a small cell is hidden.

One place for the words, so the terminal report and the HTML report say the same thing.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from ipe_claims.domain.dossier_rejection import DOSSIER_INCOMPLETE
from ipe_claims.domain.rules import (
    FILED_BEFORE_LOSS,
    FILED_LATE,
    INSUFFICIENT_DAYS_12,
    INSUFFICIENT_DAYS_36,
    LOSS_BEFORE_SCHEME,
    MOTIF_NOT_INVOLUNTARY,
)

# The rule a rejection broke, as a caseworker names it (the thresholds live in the rule set in force).
RULE_NAMES = {
    LOSS_BEFORE_SCHEME: "Perte d'emploi antérieure à l'IPE",
    MOTIF_NOT_INVOLUNTARY: "Perte d'emploi non involontaire",
    FILED_BEFORE_LOSS: "Demande déposée avant la perte d'emploi",
    FILED_LATE: "Demande déposée hors délai",
    INSUFFICIENT_DAYS_36: "Jours déclarés insuffisants sur 36 mois",
    INSUFFICIENT_DAYS_12: "Jours déclarés insuffisants sur les 12 derniers mois",
    DOSSIER_INCOMPLETE: "Dossier incomplet",
}

HEADINGS = {
    "month": "Mois de dépôt", "situation": "Situation", "claims": "Demandes", "rejection_code": "Règle non remplie",
    "example_reason": "Exemple de motif de rejet", "share": "Part des rejets", "motif_label": "Motif de perte d'emploi",
    "valid": "Valables", "rejected": "Rejetées", "valid_claims": "Demandes valables",
    "sum": "Somme (DH)", "mean": "Moyenne (DH)", "median": "Médiane (DH)",
    "months_granted": "Mois accordés", "total_amount": "Montant total (DH)", "decided": "Demandes décidées",
    "mean_days": "Délai moyen (jours)", "median_days": "Délai médian (jours)", "max_days": "Délai maximal (jours)",
    "region": "Région", "affiliation_number": "N° d'affiliation", "affiliation_name": "Raison sociale",
}  # fmt: skip

TEXT_COLUMNS = frozenset({"month", "situation", "rejection_code", "example_reason", "motif_label", "region",
                          "affiliation_number", "affiliation_name"})  # fmt: skip

# (title, table of the overview, its columns in the order shown); motif codes stay out (their label is shown).
TABLES = (
    ("Demandes par mois de dépôt et situation", "claims_per_month", ("month", "situation", "claims")),
    ("Motifs de rejet", "rejection_reasons", ("rejection_code", "claims", "share", "example_reason")),
    ("Motifs de perte d'emploi", "motifs", ("motif_label", "claims", "valid", "rejected")),
    ("Montants mensuels accordés, par mois de dépôt", "amounts_per_month",
     ("month", "valid_claims", "sum", "mean", "median", "months_granted", "total_amount")),
    ("Délais de décision par mois de dépôt", "decision_delays",
     ("month", "decided", "mean_days", "median_days", "max_days")),
    ("Par région", "by_region", ("region", "claims", "valid", "total_amount")),
    ("Affiliations les plus concernées", "top_affiliations",
     ("affiliation_number", "affiliation_name", "claims", "valid", "total_amount")),
)  # fmt: skip


def rule_name(code: str | None) -> str:
    """A rejection code in words (an unknown code, from a future rule, is shown as it is)."""
    return RULE_NAMES.get(code or "", code or "")


def percent(share: Decimal | float) -> str:
    return f"{Decimal(str(share)) * 100:.1f} %".replace(".", ",")


def number(value: Any) -> str:
    """French figures: a comma for decimals, a thin space between thousands (3 000,50)."""
    if isinstance(value, bool) or not isinstance(value, int | float | Decimal):
        return str(value)
    if isinstance(value, Decimal):  # amounts and means: their centimes
        text = f"{value:,.2f}"
    elif isinstance(value, float) and value != int(value):  # medians of days
        text = f"{value:,.1f}"
    else:
        text = f"{int(value):,}"
    return text.replace(",", "\u202f").replace(".", ",")


def cell(row: dict[str, Any], column: str, threshold: int) -> str:
    """A value as people read it: ``<5`` where a small cell is suppressed (docs/analytics.md)."""
    if column in row.get("suppressed", ()):
        return f"<{threshold}"
    value = row.get(column)
    if value is None:
        return ""
    if column == "rejection_code":
        return rule_name(value)
    if column == "share":
        return percent(value)
    if column == "month":
        return str(value)[:7]
    return number(value)
