"""Every HTML template is auto-escaped: a name holding ``<script>`` comes out as text, in the analysts' report,
the simulation's report and the email to the insured."""

from __future__ import annotations

from pathlib import Path

import pytest

import ipe_claims
import services
from ipe_claims.adapters.templating import html_environment
from ipe_claims.analytics.html_report import render_html as report_html
from ipe_claims.analytics.simulation import SimulationReport, Tally
from ipe_claims.analytics.simulation_html import render_html as simulation_html
from services.notifier.messages import MessageRenderer, Texts

SCRIPT = '<script>alert("x")</script>'
ROOTS = [Path(ipe_claims.__file__).parent, Path(services.__file__).parent]


def _escaped(html: str) -> None:
    assert "<script" not in html
    assert "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;" in html


@pytest.mark.parametrize(
    "template", sorted(p for root in ROOTS for p in root.rglob("*.html*")), ids=lambda p: p.name
)
def test_every_html_template_of_the_project_is_auto_escaped(template: Path) -> None:
    assert html_environment(template.parent).autoescape(template.name) is True  # type: ignore[operator]


def test_plain_text_templates_are_not_escaped() -> None:
    assert html_environment(ROOTS[1] / "notifier" / "templates").autoescape("deposited.fr.j2") is False  # type: ignore[operator]


def test_a_script_in_a_region_or_a_rule_set_name_is_text_in_the_simulation_report() -> None:
    report = SimulationReport(SCRIPT, (None, None))
    report.by_region[SCRIPT] = Tally(claims=1)
    report.by_month["2026-01"] = Tally(claims=1)
    html = simulation_html(report)
    _escaped(html)
    assert html.count("&lt;script&gt;") == 3  # title, heading, region row


def test_a_script_in_an_affiliations_name_is_text_in_the_analysts_report() -> None:
    tables = {"claims_per_month": [{"month": "2026-01-01", "situation": "Valable", "claims": 3}],
              "totals": {"claims": 3, "valid": 3, "rejected": 0, "pending": 0, "total_amount": 0},
              "small_cell_threshold": 1,
              "rejection_reasons": [{"rejection_code": SCRIPT, "share": 1.0, "claims": 3}],
              "motifs": [], "amounts_per_month": [], "decision_delays": [], "by_region": [],
              "top_affiliations": [{"affiliation_number": "1234567", "name": SCRIPT, "claims": 3}]}  # fmt: skip
    _escaped(report_html(tables, SCRIPT))


def test_a_script_in_the_insureds_name_is_text_in_the_email() -> None:
    renderer = MessageRenderer()
    context = {"prenoms": SCRIPT, "nom": "EL <b>ALAMI</b>", "affiliation_number": "1234567",
               "filed_on": "01/02/2026", "job_loss_date": "15/01/2026", "motif_label_fr": "Licenciement",
               "motif_label_ar": "فصل", "claim_id": "c-1"}  # fmt: skip
    fr, ar = renderer.render("deposited", "fr", context), renderer.render("deposited", "ar", context)
    assert SCRIPT in fr.body  # the plain-text part carries the name as it is
    email = renderer.email(Texts(fr.subject, fr.body, ar.subject, ar.body, "c-1"), "fr")
    _escaped(email.html)
    assert "EL &lt;b&gt;ALAMI&lt;/b&gt;" in email.html
