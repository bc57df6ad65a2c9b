"""The affiliations file is loaded whole or not at all: a short or long line is named, never half-read."""

from __future__ import annotations

from pathlib import Path

import pytest

from ipe_claims.adapters.affiliations import AffiliationFileError, read_affiliations

HEADER = "affiliation_number,name,city,region\n"


def write(tmp_path: Path, body: str) -> Path:
    path = tmp_path / "affiliations.csv"
    path.write_text(HEADER + body, encoding="utf-8")
    return path


def test_a_good_file_reads_every_line_and_empty_places_are_none(tmp_path: Path) -> None:
    path = write(tmp_path, "1234567, Atlas SARL ,Fès,Fès-Meknès\n\n7654321,Souss Agri,,\n")
    assert read_affiliations(path) == [
        ("1234567", "Atlas SARL", "Fès", "Fès-Meknès"),
        ("7654321", "Souss Agri", None, None),
    ]


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        ("1234567,Atlas SARL,Fès\n", "line 2: 3 columns, expected 4"),
        ("1234567,Atlas SARL,Fès,Fès-Meknès\n7654321,Souss,Agadir,Souss-Massa,extra\n", "line 3: 5 columns"),
        ("12A4567,Atlas SARL,Fès,Fès-Meknès\n", "line 2, affiliation_number: must be digits"),
        ("1234567, ,Fès,Fès-Meknès\n", "line 2, name: is empty"),
    ],
)
def test_a_bad_line_is_named_and_nothing_is_read(tmp_path: Path, body: str, reason: str) -> None:
    with pytest.raises(AffiliationFileError, match=reason):
        read_affiliations(write(tmp_path, body))


def test_a_file_with_another_header_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "affiliations.csv"
    path.write_text("number,name,city,region\n1234567,Atlas,Fès,Fès-Meknès\n", encoding="utf-8")
    with pytest.raises(AffiliationFileError, match="header must be"):
        read_affiliations(path)
