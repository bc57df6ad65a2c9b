"""Replay (``ipe replay``'s rebuild and swap) against a plain read of the store, and the rules as a pure
function against a plain loop over the same histories."""

from __future__ import annotations

import random
import time
import uuid
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

from bench.data import MOTIF
from bench.system import System
from ipe_claims.adapters.event_store import make_app
from ipe_claims.application.claims import ClaimsApplication
from ipe_claims.audit import replay as rebuild
from ipe_claims.domain.claim import Claim
from ipe_claims.domain.contributions import MonthlyDeclaration, months_before
from ipe_claims.domain.rules import ClaimFacts, decide


def histories(count: int, seed: int = 6) -> list[tuple[ClaimFacts, list[MonthlyDeclaration]]]:
    """Full 36-month histories, a third with a second employer some months, a few too short."""
    rng = random.Random(seed)
    out = []
    for n in range(count):
        loss = date(2024, 1, 1) + timedelta(days=rng.randrange(700))
        window = months_before(loss, 36)
        lines = [MonthlyDeclaration("7000001", month, rng.choice((26, 26, 26, 20, 0)),
                                    Decimal(rng.randrange(250_000, 1_200_000)) / 100) for month in window]  # fmt: skip
        if n % 3 == 0:
            lines += [MonthlyDeclaration("7000002", month, 10, Decimal("1500.00")) for month in window[::4]]
        out.append((ClaimFacts(loss, loss + timedelta(days=rng.randrange(1, 70)), MOTIF), lines))
    return out


def rules(count: int) -> dict[str, Any]:
    data = histories(count)
    started = time.perf_counter()
    for facts, history in data:
        decide(facts, history)
    elapsed = time.perf_counter() - started
    # The baseline: the same data, the arithmetic any implementation must do (days and salaries per month
    # over the window), in a plain loop.
    started = time.perf_counter()
    for facts, history in data:
        window = set(months_before(facts.job_loss_date, 36))
        days: dict[date, int] = {}
        salary: dict[date, Decimal] = {}
        for line in history:
            if line.period in window:
                days[line.period] = days.get(line.period, 0) + line.days
                salary[line.period] = salary.get(line.period, Decimal(0)) + line.salary
        _ = sum(min(d, 26) for d in days.values()), sum(salary.values())
    baseline = time.perf_counter() - started
    return {"value": count / elapsed, "unit": "decisions/s", "baseline": count / baseline, "histories": count,
            "target": 20_000}  # fmt: skip


def _fill_store(app: ClaimsApplication, events: int) -> None:
    """Submitted + Decided claims saved 100 to a transaction (bench data, never through intake)."""
    filed_at = datetime(2026, 1, 15, 9, tzinfo=UTC)
    loss = date(2026, 1, 5)
    history = [MonthlyDeclaration("7000001", m, 26, Decimal("4000.00")) for m in months_before(loss, 36)]
    decision = decide(ClaimFacts(loss, filed_at.date(), MOTIF), history)
    made = 0
    while made < events:
        batch = []
        for _ in range(100):
            n = uuid.uuid4()
            claim = Claim.submit(n, affiliation_number="7000001", immatriculation=str(n.int % 10**9),
                                 cin="BR000000", nom="NOM", prenoms="PRENOM", job_loss_date=loss,
                                 motif_code=MOTIF, attestation=True, filed_at=filed_at, submitted_by="bench",
                                 channel="kafka")  # fmt: skip
            claim.decide(decision, decided_by="bench")
            batch.append(claim)
        app.save(*batch)
        made += 200


def replay(system: System, events: int) -> dict[str, Any]:
    """With the services stopped: top the store up to ``events`` claim events, then time a plain read of
    them (the baseline) and a full rebuild of the read models with the swap (``ipe replay``)."""
    app = make_app(system.settings)
    try:
        with system.connect() as conn:
            have = rebuild.count_claim_events(conn, 0, rebuild.store_head(conn))
            _fill_store(app, max(0, events - have))
            head = rebuild.store_head(conn)
            total = rebuild.count_claim_events(conn, 0, head)
            started = time.perf_counter()
            after, read = 0, 0
            while page := app.claim_notifications(after, rebuild.PAGE):
                read += len(page)
                after = page[-1].id
            baseline = time.perf_counter() - started
            started = time.perf_counter()
            result = rebuild.replay(
                conn, app, rebuild.store_records(app, 0, head), position=head, verify=False
            )
            elapsed = time.perf_counter() - started
    finally:
        app.close()
    return {"value": result.applied / elapsed, "unit": "events/s", "baseline": read / baseline, "events": total,
            "seconds": round(elapsed, 2), "target": 25_000}  # fmt: skip
