"""The catalogue of job-loss motifs (motifs de perte d'emploi) an employer picks from.

Codes are stable identifiers stored in events: never rename or remove one, only add.
Whether a motif counts as an involuntary loss is a rule parameter (`RuleSet.involuntary_motifs`):
`INVOLUNTARY_MOTIF_CODES` is the reading of ruleset ipe-2014.1, see docs/rules.md for each choice.
Some motifs say too little for the rules to judge: an agent rules on them (`REVIEW_MOTIF_CODES`, review.py).
"""

from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType

from ipe_claims.domain.errors import UnknownMotif


@dataclass(frozen=True)
class Motif:
    """One entry of the drop-down list; `involuntary` mirrors the rules of the current ruleset."""

    code: str
    label_fr: str
    label_ar: str
    involuntary: bool
    needs_review: bool = False  # an agent rules whether the loss was involuntary (review.py)


INVOLUNTARY_MOTIF_CODES: frozenset[str] = frozenset(
    {
        "licenciement_economique",
        "licenciement",
        "fermeture_entreprise",
        "liquidation_judiciaire",
        "fin_cdd",
        "circonstances_independantes",
    }
)

# Motifs the rules cannot judge alone: "Autre" says nothing, and a loss after a work accident may or may
# not be the worker's choice (the article's first line names it among the losses the IPE covers).
REVIEW_MOTIF_CODES: frozenset[str] = frozenset({"accident_travail", "autre"})

# In the order shown to users: involuntary losses first, then the excluded ones, then those an agent
# reviews, "Autre" last.
_LABELS: tuple[tuple[str, str, str], ...] = (
    ("licenciement_economique", "Licenciement pour motif économique", "الفصل لأسباب اقتصادية"),
    ("licenciement", "Licenciement (autre motif)", "الفصل (لسبب آخر)"),
    ("fermeture_entreprise", "Fermeture de l'entreprise", "إغلاق المقاولة"),
    ("liquidation_judiciaire", "Liquidation judiciaire", "التصفية القضائية"),
    ("fin_cdd", "Fin de contrat à durée déterminée", "انتهاء عقد الشغل محدد المدة"),
    (
        "circonstances_independantes",
        "Des circonstances indépendantes de sa volonté",
        "ظروف خارجة عن إرادة الأجير",
    ),
    ("demission", "Démission", "الاستقالة"),
    ("depart_volontaire", "Départ volontaire", "المغادرة الطوعية"),
    ("abandon_poste", "Abandon de poste", "التخلي عن منصب الشغل"),
    ("faute_grave", "Licenciement pour faute grave", "الفصل بسبب خطأ جسيم"),
    ("accident_travail", "Accident de travail", "حادثة شغل"),
    ("autre", "Autre", "سبب آخر"),
)

MOTIFS: Mapping[str, Motif] = MappingProxyType(
    {
        code: Motif(code, fr, ar, code in INVOLUNTARY_MOTIF_CODES, code in REVIEW_MOTIF_CODES)
        for code, fr, ar in _LABELS
    }
)


def get_motif(code: str) -> Motif:
    """The catalogue entry for `code`; an unknown code is a domain error, not a KeyError."""
    try:
        return MOTIFS[code]
    except KeyError:
        raise UnknownMotif(f"unknown job-loss motif: {code!r}") from None
