"""The overview report: the fund's key tables, read from the `analytics` schema only (no personal data).

Every table is computed over ``analytics.claim_facts`` for the claims filed in the period, so the
report and the views (docs/analytics.md) agree by construction; groups smaller than the threshold of
``analytics_policy`` are suppressed, as in the views (``small_cells``).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any

import psycopg
from psycopg.rows import dict_row

from ipe_claims.analytics.small_cells import suppress

DEFAULT_THRESHOLD = 5  # analytics_policy's default (migration 073)


class PeriodError(ValueError):
    def __init__(self, message: str, field: str) -> None:
        super().__init__(message)
        self.field = field


@dataclass(frozen=True)
class Period:
    start: date | None = None
    end: date | None = None

    def label(self) -> str:
        return f"{self.start or '…'} → {self.end or '…'}"


def parse_period(start: str | None, end: str | None) -> Period:
    def parse(value: str | None, field: str) -> date | None:
        if value is None:
            return None
        try:
            return date.fromisoformat(value)
        except ValueError:
            raise PeriodError(f"{field}: attendu une date AAAA-MM-JJ, reçu {value!r}", field) from None

    period = Period(parse(start, "from"), parse(end, "to"))
    if period.start and period.end and period.start > period.end:
        raise PeriodError("la date de début (from) est après la date de fin (to)", "from")
    return period


_WHERE = "WHERE (%(start)s::date IS NULL OR filed_on >= %(start)s) AND (%(end)s::date IS NULL OR filed_on <= %(end)s)"

QUERIES = {
    "totals": f"""SELECT count(*) AS claims, count(*) FILTER (WHERE situation = 'Valable') AS valid,
        count(*) FILTER (WHERE situation = 'Rejeté') AS rejected, count(*) FILTER (WHERE situation = 'En cours') AS pending,
        coalesce(sum(total_amount), 0) AS total_amount FROM analytics.claim_facts {_WHERE}""",
    "claims_per_month": f"""SELECT filed_month AS month, situation, count(*) AS claims FROM analytics.claim_facts
        {_WHERE} GROUP BY 1, 2 ORDER BY 1, 2""",
    "rejection_reasons": f"""SELECT rejection_code, min(rejection_reason) AS example_reason, count(*) AS claims,
        round(count(*)::numeric / sum(count(*)) OVER (), 4) AS share FROM analytics.claim_facts
        {_WHERE} AND situation = 'Rejeté' GROUP BY 1 ORDER BY 3 DESC, 1""",
    "motifs": f"""SELECT motif_code, min(motif_label) AS motif_label, count(*) AS claims,
        count(*) FILTER (WHERE situation = 'Valable') AS valid, count(*) FILTER (WHERE situation = 'Rejeté') AS rejected
        FROM analytics.claim_facts {_WHERE} GROUP BY 1 ORDER BY 3 DESC, 1""",
    "amounts_per_month": f"""SELECT filed_month AS month, count(*) AS valid_claims, sum(monthly_amount) AS sum,
        round(avg(monthly_amount), 2) AS mean,
        percentile_cont(0.5) WITHIN GROUP (ORDER BY monthly_amount)::numeric(12, 2) AS median,
        sum(months_granted) AS months_granted, sum(total_amount) AS total_amount
        FROM analytics.claim_facts {_WHERE} AND situation = 'Valable' GROUP BY 1 ORDER BY 1""",
    "decision_delays": f"""SELECT filed_month AS month, count(*) AS decided, round(avg(days_to_decision), 2) AS mean_days,
        percentile_cont(0.5) WITHIN GROUP (ORDER BY days_to_decision) AS median_days, max(days_to_decision) AS max_days
        FROM analytics.claim_facts {_WHERE} AND days_to_decision IS NOT NULL GROUP BY 1 ORDER BY 1""",
    "by_region": f"""SELECT coalesce(region, 'inconnue') AS region, count(*) AS claims,
        count(*) FILTER (WHERE situation = 'Valable') AS valid, coalesce(sum(total_amount), 0) AS total_amount
        FROM analytics.claim_facts {_WHERE} GROUP BY 1 ORDER BY 2 DESC, 1""",
    "top_affiliations": f"""SELECT affiliation_number, min(affiliation_name) AS affiliation_name, count(*) AS claims,
        count(*) FILTER (WHERE situation = 'Valable') AS valid, coalesce(sum(total_amount), 0) AS total_amount
        FROM analytics.claim_facts {_WHERE} GROUP BY 1 ORDER BY 3 DESC, 1 LIMIT 20""",
}


def _plain(row: dict[str, Any]) -> dict[str, Any]:
    return {k: v.isoformat() if isinstance(v, date) else v for k, v in row.items()}


def overview(conn: psycopg.Connection[Any], period: Period) -> dict[str, Any]:
    params = {"start": period.start, "end": period.end}
    tables: dict[str, Any] = {
        "period": {
            "from": period.start and period.start.isoformat(),
            "to": period.end and period.end.isoformat(),
        }
    }
    with conn.cursor(row_factory=dict_row) as cursor:
        for name, query in QUERIES.items():
            tables[name] = [_plain(row) for row in cursor.execute(query, params).fetchall()]
        threshold = cursor.execute("SELECT small_cell_threshold FROM analytics_policy").fetchone()
    tables["totals"] = tables["totals"][0]
    return suppress(tables, threshold["small_cell_threshold"] if threshold else DEFAULT_THRESHOLD)
