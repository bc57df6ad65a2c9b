"""The simulation as an HTML page: its tables, and the cost per month drawn with a named, graduated axis
and each bar's value written on it. The geometry is computed here, so the template only draws it."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

from ipe_claims.adapters.templating import html_environment
from ipe_claims.analytics.html_report import nice_step
from ipe_claims.analytics.simulation import SimulationReport

_PLOT, _TOP, _LEFT, _BAR, _STEP = 200, 24, 90, 22, 64  # heights and widths in pixels
LIVE, SIMULATED = "#999", "#36c"


def dirhams(amount: float) -> str:
    """12345.6 → « 12 346 » (thin spaces between thousands, as French writes amounts)."""
    return f"{round(amount):,}".replace(",", "\u202f")


def cost_chart(report: SimulationReport) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """The frame (axis ticks, sizes) and one entry per month with its two bars: now and simulated."""
    months = sorted(report.by_month.items())
    tallest = max([max(float(t.total_live), float(t.total_alternative)) for _, t in months] + [1.0])
    step = nice_step(math.ceil(tallest))
    top_tick = step * math.ceil(tallest / step)
    scale = _PLOT / top_tick
    base = _TOP + _PLOT
    bars = []
    for i, (month, tally) in enumerate(months):
        x = _LEFT + 10 + i * _STEP
        pair = []
        for offset, (kind, amount, color) in enumerate(
            (("actuel", float(tally.total_live), LIVE), ("simulé", float(tally.total_alternative), SIMULATED))
        ):
            height = round(amount * scale)
            pair.append({"kind": kind, "x": x + offset * _BAR, "y": base - height, "h": height, "color": color,
                         "value": dirhams(amount)})  # fmt: skip
        bars.append({"month": str(month), "x": x, "bars": pair})
    ticks = [{"y": base - round(v * scale), "label": dirhams(v)} for v in range(0, top_tick + 1, step)]
    frame = {"width": _LEFT + 20 + max(len(bars), 3) * _STEP, "height": base + 44, "top": _TOP, "base": base,
             "plot": _PLOT, "left": _LEFT, "bar": _BAR, "ticks": ticks}  # fmt: skip
    return frame, bars


def render_html(report: SimulationReport) -> str:
    frame, months = cost_chart(report)
    env = html_environment(Path(__file__).parent / "templates")
    return env.get_template("simulation.html.j2").render(
        report=report, chart=frame, months=months, colors={"actuel": LIVE, "simulé": SIMULATED}
    )
