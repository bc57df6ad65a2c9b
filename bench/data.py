"""Synthetic, reproducible benchmark data: insured workers with full 36-month histories, as CSV rows,
Kafka declaration lines and claim submissions. No real person's data, ever."""

from __future__ import annotations

import csv
import random
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

from ipe_claims.adapters.declarations import HEADER
from ipe_claims.domain.contributions import months_before

MONTHS = 36
MOTIF = "licenciement_economique"  # involuntary: every bench claim is decided on its history


@dataclass(frozen=True)
class Worker:
    affiliation_number: str
    immatriculation: str
    cin: str
    nom: str
    prenoms: str


def workers(count: int, first: int = 0, affiliations: int = 20) -> list[Worker]:
    """``count`` workers numbered from ``first`` (distinct ranges never collide)."""
    return [Worker(str(7_000_000 + n % affiliations), str(100_000_000 + n), f"BK{n:07d}", f"NOM{n}", f"PRENOM{n}")
            for n in range(first, first + count)]  # fmt: skip


def affiliations(count: int = 20) -> list[str]:
    return [str(7_000_000 + n) for n in range(count)]


def history_rows(
    people: list[Worker], months: int = MONTHS, today: date | None = None
) -> Iterator[tuple[Any, ...]]:
    """Each worker declared 26 days a month for ``months`` months before this month (all eligible)."""
    window = months_before(today or date.today(), months)
    rng = random.Random(6)
    for worker in people:
        salary = Decimal(rng.randrange(300_000, 900_000)) / 100
        for period in window:
            yield (worker.affiliation_number, worker.immatriculation, worker.cin, worker.nom, worker.prenoms,
                   period, 26, salary)  # fmt: skip


def write_csv(path: Path, rows: Iterator[tuple[Any, ...]]) -> int:
    count = 0
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(HEADER)
        for row in rows:
            writer.writerow([*row[:5], row[5].strftime("%Y-%m"), row[6], row[7]])
            count += 1
    return count


def job_loss_date(today: date | None = None) -> date:
    return (today or date.today()) - timedelta(days=3)


def submission(worker: Worker, portal: str, submission_id: str) -> dict[str, Any]:
    """A ClaimSubmission record (schemas/ClaimSubmission.v1.avsc)."""
    return {"submission_id": submission_id, "portal": portal, "affiliation_number": worker.affiliation_number,
            "immatriculation": worker.immatriculation, "job_loss_date": job_loss_date(), "motif_code": MOTIF,
            "attestation": True}  # fmt: skip


def http_body(worker: Worker) -> dict[str, Any]:
    return {"affiliation_number": worker.affiliation_number, "immatriculation": worker.immatriculation,
            "job_loss_date": job_loss_date().isoformat(), "motif_code": MOTIF, "attestation": True}  # fmt: skip
