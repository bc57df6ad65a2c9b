"""The simulation's cost chart: a named axis graduated in dirhams, and every bar's value written on it."""

from __future__ import annotations

import re
from decimal import Decimal

from ipe_claims.analytics.simulation import SimulationReport, Tally
from ipe_claims.analytics.simulation_html import cost_chart, dirhams, render_html


def report() -> SimulationReport:
    scenario = SimulationReport("cgem-2021", (None, None))
    scenario.by_month["2019-03"] = Tally(
        claims=2, total_live=Decimal("10500.00"), total_alternative=Decimal("21000")
    )
    scenario.by_month["2019-04"] = Tally(
        claims=1, total_live=Decimal("0"), total_alternative=Decimal("5250.50")
    )
    return scenario


def test_bars_are_proportional_and_the_axis_covers_the_tallest() -> None:
    frame, months = cost_chart(report())
    assert [m["month"] for m in months] == ["2019-03", "2019-04"]
    live, simulated = months[0]["bars"]
    assert (live["kind"], simulated["kind"]) == ("actuel", "simulé")
    assert simulated["h"] == 2 * live["h"]  # 21 000 DH is twice 10 500 DH
    assert months[1]["bars"][0]["h"] == 0
    labels = [tick["label"] for tick in frame["ticks"]]
    assert labels[0] == "0" and int(labels[-1].replace("\u202f", "")) >= 21000
    assert frame["ticks"][-1]["y"] <= simulated["y"]  # the top tick is at or above the tallest bar


def test_the_page_names_its_axes_and_writes_every_value() -> None:
    page = render_html(report())
    assert "Coût total (DH)" in page and "Mois de perte d'emploi</text>" in page
    for amount in ("10\u202f500", "21\u202f000", "5\u202f250", "0"):
        assert re.search(rf">{amount}</text>", page), amount
    assert page.count("<rect") == 4 and "2019-04" in page


def test_an_empty_period_says_so_instead_of_an_empty_chart() -> None:
    page = render_html(SimulationReport("cgem-2021", (None, None)))
    assert "Aucune demande décidée dans la période" in page and "<svg" not in page


def test_amounts_are_written_the_french_way() -> None:
    assert dirhams(1234567.5) == "1\u202f234\u202f568" and dirhams(0) == "0"
