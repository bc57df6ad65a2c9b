"""The payment run's adapters: its bank file (ISO 20022 pain.001, ``pain001.py``) and the claims it looks at
(the ``payments`` read model).

The file depends only on the run's month and its payments: created at the first instant of the month
(Casablanca time) and to be executed by the month's last day, so a run written again is the same bytes,
whatever day it runs. The message id says the month (``IPE-YYYYMM-…``).
"""

from __future__ import annotations

import calendar
import uuid
from collections.abc import Sequence
from datetime import date, datetime
from typing import Any

import psycopg
from psycopg.rows import tuple_row

from ipe_claims.adapters import pain001
from ipe_claims.application.paying import Transfer
from ipe_claims.domain.dates import CASABLANCA
from ipe_claims.domain.payments import parse_month


def _transfers(transfers: Sequence[Transfer]) -> list[pain001.Transfer]:
    return [
        pain001.Transfer(t.claim_id, t.month, t.amount_centimes, t.creditor_name, t.creditor_rib)
        for t in transfers
    ]


def _first_day(run_month: str) -> date:
    year, month = map(int, parse_month(run_month).split("-"))
    return date(year, month, 1)


class Pain001Files:
    """pain.001.001.09 files debiting the fund's account ``debtor``."""

    def __init__(self, debtor: pain001.Debtor) -> None:
        self.debtor = debtor

    def file_id(self, run_month: str, transfers: Sequence[Transfer]) -> str:
        return pain001.message_id(run_month, _transfers(transfers))

    def of_run(self, file_id: str, run_month: str) -> bool:
        return file_id.startswith(f"IPE-{parse_month(run_month).replace('-', '')}-")

    def write(self, run_month: str, transfers: Sequence[Transfer]) -> bytes:
        first = _first_day(run_month)
        last = first.replace(day=calendar.monthrange(first.year, first.month)[1])
        created = datetime(first.year, first.month, 1, tzinfo=CASABLANCA)
        return pain001.credit_transfer_file(
            self.debtor, _transfers(transfers), run_month=run_month, created_at=created, execution_date=last
        )


class PostgresPaymentIndex:
    """The claims a run looks at, from the ``payments`` read model on the caller's connection."""

    def __init__(self, conn: psycopg.Connection[Any]) -> None:
        self.conn = conn

    def claims_to_pay(self, run_month: str) -> list[uuid.UUID]:
        prefix = f"IPE-{parse_month(run_month).replace('-', '')}-"
        with self.conn.cursor(row_factory=tuple_row) as cursor:
            rows = cursor.execute(
                "SELECT DISTINCT claim_id FROM payments WHERE (month <= %s AND status = 'scheduled') "
                "OR starts_with(file_id, %s) ORDER BY claim_id",
                (run_month, prefix),
            ).fetchall()
        return [row[0] for row in rows]
