"""How long decisions stop after each fault: a watch on the event store, and the table it gives.

A decision is a ``Claim.Decided`` event the projector appends once a claim came through Kafka (relay →
``ipe.claim-events`` → projector), so a gap between decisions is the pipeline standing still. For each
fault: the longest gap between decisions from the moment it struck until the next fault ("pause"), and
when that gap ended ("back after", seconds after the fault).
"""

from __future__ import annotations

import itertools
import threading
import time
from dataclasses import dataclass

import psycopg
from eventsourcing.utils import get_topic

from ipe_claims.domain.claim import Claim

POLL = 0.1  # the resolution of every figure in the table


@dataclass
class Strike:
    label: str
    at: float  # monotonic
    accepted: int  # submissions accepted when it struck
    in_sync_after: float | None = None  # seconds until every replica was in sync again (Kafka faults)


@dataclass
class Pause:
    strike: Strike
    longest: float | None  # None: no decision after it at all (everything was decided before)
    back_after: float | None


class DecisionWatch(threading.Thread):
    """Notes the moment new decisions appear in the store, every ``POLL`` seconds, until stopped."""

    def __init__(self, database_url: str) -> None:
        super().__init__(daemon=True)
        self.database_url = database_url
        self.seen: list[float] = []
        self.stopped = threading.Event()

    def run(self) -> None:
        last = 0
        while not self.stopped.is_set():
            try:
                with psycopg.connect(self.database_url, autocommit=True, connect_timeout=2) as conn:
                    while not self.stopped.wait(POLL):
                        row = conn.execute(
                            "SELECT max(notification_id) FROM ipe_events WHERE notification_id > %s AND topic = %s",
                            (last, get_topic(Claim.Decided)),
                        ).fetchone()
                        if row and row[0] is not None:
                            last = int(row[0])
                            self.seen.append(time.monotonic())
            except psycopg.Error:  # Postgres restarted under the watch: look again
                self.stopped.wait(0.5)

    def stop(self) -> None:
        self.stopped.set()
        self.join()


def pauses(strikes: list[Strike], seen: list[float]) -> list[Pause]:
    """For each fault, the longest gap between decisions from the fault to the first decision after it,
    then on until the next fault."""
    result = []
    for i, strike in enumerate(strikes):
        after = [t for t in seen if t > strike.at]
        if not after:
            result.append(Pause(strike, None, None))
            continue
        end = max(after[0], strikes[i + 1].at) if i + 1 < len(strikes) else after[-1]
        points = [strike.at, *(t for t in after if t <= end)]
        gaps = [(b - a, b) for a, b in itertools.pairwise(points)]
        longest, ended = max(gaps)
        result.append(Pause(strike, longest, ended - strike.at))
    return result


def baseline(strikes: list[Strike], seen: list[float]) -> float | None:
    """The longest gap between decisions before the first fault: what a pause is compared with."""
    first = strikes[0].at if strikes else float("inf")
    before = [t for t in seen if t < first]
    return max((b - a for a, b in itertools.pairwise(before)), default=None)


def table(rows: list[Pause], started: float, normal: float | None) -> list[str]:
    """fault | at (s into the load, submissions accepted) | pause | back after | replicas in sync after."""
    label_width = max([len(p.strike.label) for p in rows] + [40])
    seconds = lambda v: "-" if v is None else f"{v:.1f}s"  # noqa: E731
    head = f"{'fault':<{label_width}}  {'at':>7} {'accepted':>8}  {'pause':>7}  {'back after':>10}  {'in sync after':>13}"
    lines = ["pause in decisions after each fault (longest gap until the next fault)", head, "-" * len(head)]
    lines.append(
        f"{'(no fault: longest gap before the first one)':<{label_width}}  {'':>7} {'':>8}  {seconds(normal):>7}"
    )
    for p in rows:
        at = f"+{p.strike.at - started:.0f}s"
        lines.append(f"{p.strike.label:<{label_width}}  {at:>7} {p.strike.accepted:>8}  {seconds(p.longest):>7}  "
                     f"{seconds(p.back_after):>10}  {seconds(p.strike.in_sync_after):>13}")  # fmt: skip
    return lines
