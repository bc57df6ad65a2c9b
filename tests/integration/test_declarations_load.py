"""The COPY path of ``load_csv``: Postgres parses and checks the file, the first bad line is reported,
and nothing of a bad file is written."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest

from ipe_claims.adapters.declarations import HEADER, DeclarationFileError, load_csv
from tests.conftest import random_digits

pytestmark = pytest.mark.integration


def write(tmp_path: Path, lines: list[str]) -> Path:
    path = tmp_path / "declarations.csv"
    path.write_text(",".join(HEADER) + "\n" + "\n".join(lines) + "\n", encoding="utf-8")
    return path


def test_a_file_is_loaded_and_a_later_line_wins(tmp_path: Path, conn) -> None:
    aff, imm = random_digits(7), random_digits(9)
    path = write(tmp_path, [f"{aff},{imm},X1,Nom,Prénom,2025-01,26,4000.5",
                            f" {aff} ,{imm},X1,Nom,Prénom,2025-02,20,3000",
                            f"{aff},{imm},X1,Nom,Prénom,2025-02,21,3100.00"])  # fmt: skip
    report = load_csv(conn, path)
    assert report.rows == 3
    rows = conn.execute("SELECT period, days, salary FROM declarations WHERE immatriculation = %s ORDER BY period",
                        (imm,)).fetchall()  # fmt: skip
    assert [(r[0].isoformat(), r[1], r[2]) for r in rows] == [
        ("2025-01-01", 26, Decimal("4000.50")), ("2025-02-01", 21, Decimal("3100.00"))]  # fmt: skip
    assert conn.execute("SELECT prenoms FROM insured WHERE immatriculation = %s", (imm,)).fetchone() == (
        "Prénom",
    )


@pytest.mark.parametrize(
    ("bad", "message"),
    [
        ("A12,{imm},X,N,P,2025-01,26,1", "line 3, affiliation_number: must be digits"),
        ("1,{imm},X,,P,2025-01,26,1", "line 3, nom: is empty"),
        (",{imm},X,N,P,2025-01,26,1", "line 3, affiliation_number: must be digits"),
        ("1 2,{imm},X,N,P,2025-01,26,1", "line 3, affiliation_number: must be digits"),
        ("1,{imm},X,N,P,2025-13,26,1", "line 3, period: must be YYYY-MM"),
        ("1,{imm},X,N,P,2025-01,deux,1", "line 3, days/salary: must be numbers"),
        ("1,{imm},X,N,P,2025-01,32,1", "line 3, days: must be between 0 and 31"),
        ("1,{imm},X,N,P,2025-01,3,-5", "line 3, salary: must be a non-negative amount"),
        ("1,{imm},X,N,P,2025-01,3,99999999999", "line 3, salary: must be a non-negative amount"),
        ("1,{imm},X,N,P,2025-01,3", "missing data for column"),
        # the fast tests in front of each rule must not let these through
        ("1,{imm},X,   ,P,2025-01,26,1", "line 3, nom: is empty"),
        ("1,{imm},X,N, ,2025-01,26,1", "line 3, prenoms: is empty"),
        ("1,{imm},,N,P,2025-01,26,1", "line 3, cin: is empty"),
        ("1,,X,N,P,2025-01,26,1", "line 3, immatriculation: must be digits"),
        ("1,{imm}x,X,N,P,2025-01,26,1", "line 3, immatriculation: must be digits"),
        ("123456789012345678901,{imm},X,N,P,2025-01,26,1", "line 3, affiliation_number: must be digits"),
        ("1,{imm},X,N,P,2025-0:,26,1", "line 3, period: must be YYYY-MM"),
        ("1,{imm},X,N,P,2025/01,26,1", "line 3, period: must be YYYY-MM"),
        ("1,{imm},X,N,P,2a25-01,26,1", "line 3, period: must be YYYY-MM"),
        ("1,{imm},X,N,P,,26,1", "line 3, period: must be YYYY-MM"),
    ],
)
def test_a_bad_line_is_reported_and_nothing_is_written(tmp_path: Path, conn, bad: str, message: str) -> None:
    imm = random_digits(9)
    path = write(tmp_path, [f"1,{imm},X,N,P,2024-12,26,1", bad.format(imm=imm)])
    with pytest.raises(DeclarationFileError, match=message):
        load_csv(conn, path)
    assert conn.execute(
        "SELECT count(*) FROM declarations WHERE immatriculation = %s", (imm,)
    ).fetchone() == (0,)


def test_spaces_around_values_are_trimmed(tmp_path: Path, conn) -> None:
    imm = random_digits(9)
    path = write(tmp_path, [f" 42 , {imm} , X9 , Nom , Pre , 2025-03 ,26,1"])
    assert load_csv(conn, path).rows == 1
    assert conn.execute("SELECT affiliation_number, period::text FROM declarations WHERE immatriculation = %s",
                        (imm,)).fetchone() == ("42", "2025-03-01")  # fmt: skip
    assert conn.execute("SELECT cin, nom FROM insured WHERE immatriculation = %s", (imm,)).fetchone() == (
        "X9",
        "Nom",
    )


def test_a_wrong_header_is_refused(tmp_path: Path, conn) -> None:
    path = tmp_path / "x.csv"
    path.write_text("a,b\n1,2\n")
    with pytest.raises(DeclarationFileError, match="header must be"):
        load_csv(conn, path)
