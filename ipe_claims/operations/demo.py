"""Demo reference data for ``make run``: two affiliations of one compte groupe, a handful of fictitious
insured with contribution histories that lead to both decisions, and the demo accounts."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any

import psycopg

from ipe_claims.adapters.accounts import create_account
from ipe_claims.adapters.declarations import load_rows
from ipe_claims.domain.contributions import months_before

AFFILIATIONS = {"1234567": "Atlas Textiles SARL", "2345678": "Sahara Logistique SA"}
DEMO_EMPLOYER = ("demo", "demo-ipe-2026")
DEMO_AUDITOR = ("auditor", "auditor-ipe-2026")


@dataclass(frozen=True)
class DemoInsured:
    immatriculation: str
    cin: str
    nom: str
    prenoms: str
    affiliation_number: str
    months: int  # how many months before the current one were declared
    days: int
    salary: Decimal
    story: str


INSURED = (
    DemoInsured(
        "100000001",
        "BE100001",
        "ALAMI",
        "Fatima",
        "1234567",
        40,
        26,
        Decimal("4000.00"),
        "full history: Valable, 2 800.00 DH a month",
    ),
    DemoInsured(
        "100000002",
        "BE100002",
        "BENANI",
        "Youssef",
        "1234567",
        40,
        26,
        Decimal("9000.00"),
        "high salary: Valable, capped at the SMIG",
    ),
    DemoInsured(
        "100000003",
        "BE100003",
        "CHRAIBI",
        "Salma",
        "1234567",
        20,
        26,
        Decimal("3500.00"),
        "20 months declared: Rejeté, not enough days",
    ),
    DemoInsured(
        "100000004",
        "BE100004",
        "DAOUDI",
        "Karim",
        "2345678",
        40,
        24,
        Decimal("5200.00"),
        "second affiliation of the compte groupe",
    ),
    DemoInsured(
        "100000005",
        "BE100005",
        "EL FASSI",
        "Nadia",
        "1234567",
        40,
        26,
        Decimal("3000.00"),
        "try motif demission: Rejeté, voluntary loss",
    ),
)


def declaration_rows(today: date) -> list[tuple[Any, ...]]:
    rows = []
    for person in INSURED:
        for period in months_before(today, person.months):
            rows.append(
                (
                    person.affiliation_number,
                    person.immatriculation,
                    person.cin,
                    person.nom,
                    person.prenoms,
                    period,
                    person.days,
                    person.salary,
                )
            )
    return rows


def is_seeded(conn: psycopg.Connection[Any]) -> bool:
    row = conn.execute("SELECT EXISTS (SELECT 1 FROM accounts)").fetchone()
    return bool(row and row[0])


def seed(conn: psycopg.Connection[Any], today: date) -> None:
    load_rows(conn, declaration_rows(today))
    for number, name in AFFILIATIONS.items():
        conn.execute("UPDATE affiliations SET name = %s WHERE affiliation_number = %s", (name, number))
    create_account(conn, *DEMO_EMPLOYER, "employer", list(AFFILIATIONS))
    create_account(conn, *DEMO_AUDITOR, "auditor", [])
