"""The overview as an HTML page: two charts with their axes named and their values written on them, and the
tables in French (``wording``). The charts' geometry is computed here, so the template only draws it."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, select_autoescape

from ipe_claims.analytics.wording import HEADINGS, TABLES, TEXT_COLUMNS, cell, percent, rule_name

COLORS = {"Valable": "#2a7a2a", "Rejeté": "#b52a2a", "En cours": "#777"}
_PLOT, _TOP, _LEFT, _BAR, _STEP = 200, 24, 64, 34, 52  # claims per month: heights and widths in pixels
_REASON_LEFT, _REASON_SCALE, _REASON_ROW = 330, 360, 26  # rejection reasons: label column, 100 %, row


def nice_step(tallest: int, ticks: int = 4) -> int:
    """A round step (1, 2, 5 × 10^n) giving about ``ticks`` gridlines up to ``tallest``."""
    raw = max(tallest, 1) / ticks
    power = 10 ** math.floor(math.log10(raw)) if raw >= 1 else 1
    return int(next(m * power for m in (1, 2, 5, 10) if m * power >= raw))


def _per_month(tables: dict[str, Any]) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    counts: dict[str, dict[str, int]] = {}
    for row in tables["claims_per_month"]:  # a suppressed count draws no bar
        counts.setdefault(str(row["month"])[:7], {})[row["situation"]] = row["claims"] or 0
    step = nice_step(max([sum(c.values()) for c in counts.values()] + [1]))
    top_tick = step * math.ceil(max([sum(c.values()) for c in counts.values()] + [1]) / step)
    scale = _PLOT / top_tick
    base = _TOP + _PLOT
    months = []
    for i, (month, by_situation) in enumerate(sorted(counts.items())):
        y, segments = base, []
        for name, color in COLORS.items():
            count = by_situation.get(name, 0)
            height = round(count * scale)
            if count:
                y -= height
                segments.append({"name": name, "color": color, "count": count, "y": y, "h": height})
        months.append({"month": month, "x": _LEFT + 10 + i * _STEP, "segments": segments,
                       "total": sum(by_situation.values()), "top": y})  # fmt: skip
    ticks = [{"y": base - round(v * scale), "label": v} for v in range(0, top_tick + 1, step)]
    frame = {"width": _LEFT + 20 + max(len(months), 3) * _STEP, "height": base + 44, "top": _TOP, "base": base,
             "plot": _PLOT, "left": _LEFT, "bar": _BAR, "ticks": ticks}  # fmt: skip
    return frame, months


def _by_reason(tables: dict[str, Any]) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    threshold = tables["small_cell_threshold"]
    reasons = []
    for i, row in enumerate(tables["rejection_reasons"]):
        share = row.get("share")
        shown = share is not None and "share" not in row.get("suppressed", ())
        reasons.append({"name": rule_name(row["rejection_code"]), "y": _TOP + i * _REASON_ROW,
                        "w": round(float(share) * _REASON_SCALE) if shown else None,
                        "value": f"{percent(share)} ({cell(row, 'claims', threshold)} demandes)" if shown
                        else f"<{threshold} demandes"})  # fmt: skip
    base = _TOP + len(reasons) * _REASON_ROW
    ticks = [
        {"x": _REASON_LEFT + round(p * _REASON_SCALE / 100), "label": f"{p} %"} for p in (0, 25, 50, 75, 100)
    ]
    frame = {"width": _REASON_LEFT + _REASON_SCALE + 150, "height": base + 40, "top": _TOP, "base": base,
             "left": _REASON_LEFT, "scale": _REASON_SCALE, "ticks": ticks}  # fmt: skip
    return frame, reasons


def render_html(tables: dict[str, Any], period: str) -> str:
    per_month, months = _per_month(tables)
    by_reason, reasons = _by_reason(tables)
    env = Environment(loader=FileSystemLoader(Path(__file__).parent / "templates"),
                      autoescape=select_autoescape(["html", "j2"]))  # fmt: skip
    return env.get_template("report.html.j2").render(
        t=tables, period=period, colors=COLORS, per_month=per_month, months=months, by_reason=by_reason,
        reasons=reasons, tables=TABLES, headings=HEADINGS, text_columns=TEXT_COLUMNS,
        cell=lambda row, column: cell(row, column, tables["small_cell_threshold"]),
    )  # fmt: skip
