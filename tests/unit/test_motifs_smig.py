import re
from datetime import date, timedelta
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ipe_claims.domain.errors import DomainError, SmigNotInForce, UnknownMotif
from ipe_claims.domain.motifs import MOTIFS, get_motif
from ipe_claims.domain.rules import RULESETS
from ipe_claims.domain.smig import SMIG_TABLE, smig_monthly, smig_rate

EXCLUDED = {"demission", "depart_volontaire", "abandon_poste", "faute_grave", "accident_travail", "autre"}
REVIEWED = {"accident_travail", "autre"}
INVOLUNTARY = {
    "licenciement_economique",
    "licenciement",
    "fermeture_entreprise",
    "liquidation_judiciaire",
    "fin_cdd",
    "circonstances_independantes",
}


def test_catalogue_holds_exactly_the_known_motifs_in_display_order():
    assert set(MOTIFS) == EXCLUDED | INVOLUNTARY
    codes = list(MOTIFS)
    assert codes[0] == "licenciement_economique"
    assert codes[-2:] == ["accident_travail", "autre"]
    assert MOTIFS["autre"].label_fr == "Autre"  # as on the seed's confirmation screen


def test_codes_are_stable_lowercase_snake_and_keys_match():
    for code, motif in MOTIFS.items():
        assert re.fullmatch(r"[a-z]+(_[a-z]+)*", code)
        assert motif.code == code


def test_arabic_labels_are_arabic_and_distinct():
    labels = [motif.label_ar for motif in MOTIFS.values()]
    assert len(set(labels)) == len(labels)
    for label in labels:
        assert re.search(r"[\u0600-\u06FF]", label)
        assert not re.search(r"[A-Za-z]", label)
    assert get_motif("demission").label_ar == "الاستقالة"


@pytest.mark.parametrize("code", sorted(INVOLUNTARY))
def test_involuntary_motifs(code):
    assert get_motif(code).involuntary is True


@pytest.mark.parametrize("code", sorted(EXCLUDED))
def test_excluded_motifs(code):
    assert get_motif(code).involuntary is False


def test_only_autre_and_accident_de_travail_need_an_agents_review():
    assert {code for code, motif in MOTIFS.items() if motif.needs_review} == REVIEWED
    assert get_motif("accident_travail").label_fr == "Accident de travail"


def test_catalogue_flag_mirrors_the_current_ruleset_parameter():
    current = RULESETS[-1].involuntary_motifs
    assert {code for code, motif in MOTIFS.items() if motif.involuntary} == current


def test_unknown_motif_is_a_domain_error():
    with pytest.raises(UnknownMotif) as raised:
        get_motif("licenciement abusif")
    assert isinstance(raised.value, DomainError)


# Effective date, hourly, monthly gross as given in ipe_rules.md §4 (not recomputed here).
EXPECTED_SMIG = [
    (date(2012, 7, 1), "12.24", "2337.84"),
    (date(2014, 7, 1), "12.85", "2454.35"),
    (date(2015, 7, 1), "13.46", "2570.86"),
    (date(2019, 7, 1), "14.13", "2698.83"),
    (date(2020, 7, 1), "14.81", "2828.71"),
    (date(2022, 9, 1), "15.55", "2970.05"),
    (date(2023, 9, 1), "16.29", "3111.39"),
    (date(2025, 1, 1), "17.10", "3266.10"),
    (date(2026, 1, 1), "17.92", "3422.72"),
]


def test_table_is_the_documented_one():
    assert [(r.effective_from, r.hourly, r.monthly) for r in SMIG_TABLE] == [
        (day, Decimal(hourly), Decimal(monthly)) for day, hourly, monthly in EXPECTED_SMIG
    ]
    assert all(rate.source for rate in SMIG_TABLE)


@pytest.mark.parametrize("day, monthly", [(day, monthly) for day, _, monthly in EXPECTED_SMIG])
def test_smig_changes_on_its_effective_date(day, monthly):
    assert smig_monthly(day) == Decimal(monthly)
    assert smig_monthly(day + timedelta(days=1)) == Decimal(monthly)


@pytest.mark.parametrize("index", range(1, len(EXPECTED_SMIG)))
def test_day_before_a_change_keeps_the_previous_figure(index):
    day, _, _ = EXPECTED_SMIG[index]
    assert smig_monthly(day - timedelta(days=1)) == Decimal(EXPECTED_SMIG[index - 1][2])


def test_seed_figure_holds_from_september_2022_to_august_2023():
    assert smig_monthly(date(2022, 9, 1)) == Decimal("2970.05")
    assert smig_monthly(date(2023, 8, 31)) == Decimal("2970.05")
    assert smig_monthly(date(2023, 9, 1)) == Decimal("3111.39")


def test_last_figure_stays_in_force():
    assert smig_monthly(date(2040, 1, 1)) == Decimal("3422.72")


def test_no_smig_before_the_table():
    with pytest.raises(SmigNotInForce):
        smig_monthly(date(2012, 6, 30))
    assert issubclass(SmigNotInForce, DomainError)


@given(st.dates(min_value=date(2012, 7, 1), max_value=date(2030, 12, 31)))
def test_monthly_is_191_hours_and_the_latest_entry_not_after_the_date(day):
    rate = smig_rate(day)
    assert rate.effective_from <= day
    assert not [r for r in SMIG_TABLE if rate.effective_from < r.effective_from <= day]
    assert smig_monthly(day) == rate.hourly * 191
