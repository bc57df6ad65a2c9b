"""The employer portal in a real browser: Playwright driving Debian's Chromium (`apt-get install chromium`;
never `playwright install`) against the API served in this process on the harness's Postgres, with the
pipeline deciding the claims. The seed's flow in French and in Arabic, its refusals, logout, and axe-core
on every page. Screenshots of every page go to tests/e2e/screenshots/ (a failing step's too)."""

from __future__ import annotations

import os
import re
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import psycopg
import pytest
from axe_playwright_python.sync_playwright import Axe
from playwright.sync_api import Browser, Page, expect, sync_playwright

from ipe_claims.adapters.accounts import create_account
from ipe_claims.application.claims import ClaimsApplication
from ipe_claims.domain.motifs import MOTIFS
from ipe_claims.settings import Settings
from services.claim_intake.portal.texts import words
from tests.conftest import Insured, days_ago, declare, random_digits
from tests.integration.conftest import Pipeline, codec, pipeline, served_api  # noqa: F401 (fixtures)

pytestmark = pytest.mark.e2e
SHOTS = Path(__file__).parent / "screenshots"
PASSWORD = "correct horse battery"
SEED_COLUMNS = ["Identification", "C.I.R.", "Nom", "Prénoms", "Numero Affecté", "Motif Perte Emploi",
                "Date Perte Emploi", "Situation", "Date situation", "Motif Rejet"]  # fmt: skip


def chromium() -> str:
    found = os.environ.get("IPE_CHROMIUM") or shutil.which("chromium") or shutil.which("chromium-browser")
    assert found, "no Chromium: apt-get install -y chromium (.ci/run does it), or set IPE_CHROMIUM"
    return found


@pytest.fixture(scope="module")
def base_url(settings: Settings, claims_app: ClaimsApplication, pipeline: Pipeline) -> Iterator[str]:  # noqa: F811
    with served_api(settings, claims_app) as url:
        yield url


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(
            executable_path=chromium(), args=["--no-sandbox", "--lang=fr-FR"]
        )
        yield launched
        launched.close()


class Tour:
    """One browser tab's walk through the portal: every page it reaches is screenshot and checked by axe."""

    def __init__(self, page: Page, lang: str) -> None:
        self.page = page
        self.lang = lang
        self.count = 0
        self.shots: list[Path] = []

    def shot(self, name: str) -> Path:
        self.count += 1
        SHOTS.mkdir(exist_ok=True)
        path = SHOTS / f"{self.lang}-{self.count:02d}-{name}.png"
        self.page.screenshot(path=str(path), full_page=True)
        self.shots.append(path)
        print(f"screenshot: {path}")
        return path

    def check(self, name: str) -> None:
        """Screenshot, then no serious or critical axe-core violation on this page, and lang/dir set."""
        self.shot(name)
        expected_dir = "rtl" if self.lang == "ar" else "ltr"
        expect(self.page.locator("html")).to_have_attribute("lang", self.lang)
        expect(self.page.locator("html")).to_have_attribute("dir", expected_dir)
        violations = Axe().run(self.page).response["violations"]
        bad = [(v["id"], v["impact"], [n["target"] for n in v["nodes"]][:3]) for v in violations
               if v["impact"] in ("serious", "critical")]  # fmt: skip
        assert not bad, f"{name}: {bad}"

    @contextmanager
    def step(self, name: str) -> Iterator[None]:
        try:
            yield
        except BaseException:
            self.shot(f"FAILED-{name}")
            raise


@pytest.fixture
def new_tab(browser: Browser, base_url: str) -> Iterator[Any]:
    contexts = []

    def make(lang: str) -> Tour:
        context = browser.new_context(base_url=base_url, locale="fr-MA")
        contexts.append(context)
        return Tour(context.new_page(), lang)

    yield make
    for context in contexts:
        context.close()


def compte_groupe(conn: psycopg.Connection[Any]) -> tuple[str, Insured]:
    """An employer with two affiliations; the first declared an insured who qualifies."""
    insured = declare(conn, months=38)
    other = declare(conn, months=2)
    username = f"employeur-{random_digits(9)}"
    create_account(
        conn, username, PASSWORD, "employer", [insured.affiliation_number, other.affiliation_number]
    )
    return username, insured


def login(tour: Tour, username: str) -> None:
    page, t = tour.page, words(tour.lang)
    page.goto("/portail/")
    expect(page).to_have_url(re.compile(r"/portail/connexion$"))
    if tour.lang == "ar":
        page.get_by_role("link", name="العربية").click()  # the switch, labelled as the issue says
    tour.check("connexion")
    page.get_by_label(t["username"]).fill(username)
    page.get_by_label(t["password"]).fill(PASSWORD)
    page.get_by_label(t["password"]).press("Enter")  # the keyboard submits the form


def choose_affiliation(tour: Tour, affiliation: str) -> None:
    page, t = tour.page, words(tour.lang)
    expect(page).to_have_url(re.compile(r"/portail/affiliation$"))
    tour.check("affiliation")
    page.get_by_label(t["affiliation"]).select_option(affiliation)
    page.get_by_role("button", name=t["choose"]).click()


def open_form(tour: Tour, insured: Insured) -> None:
    page, t = tour.page, words(tour.lang)
    page.get_by_role("link", name=t["new_claim"]).first.click()
    expect(page.get_by_role("columnheader", name=t["action"])).to_be_visible()
    row = page.get_by_role("row").filter(has_text=insured.immatriculation)
    expect(row).to_contain_text(str(36 * 26))  # the cumulated declared days of the 36 months
    tour.check("nouvelle-demande")
    row.get_by_role("link", name=re.compile(t["create_claim"])).click()
    expect(page.get_by_role("heading", name=t["form_title"])).to_be_visible()


def fill_form(tour: Tour, loss: str, motif: str = "licenciement_economique") -> None:
    page, t = tour.page, words(tour.lang)
    page.get_by_label(t["job_loss_date"]).fill(loss)
    label = MOTIFS[motif].label_ar if tour.lang == "ar" else MOTIFS[motif].label_fr
    page.get_by_label(t["motif"]).select_option(label=label)
    attest = page.get_by_label(t["attestation"])
    if not attest.is_checked():
        attest.focus()
        page.keyboard.press("Space")  # ticked with the keyboard
    expect(attest).to_be_checked()
    page.get_by_role("button", name=t["validate"]).click()


def confirm(tour: Tour, shoot: bool) -> None:
    page, t = tour.page, words(tour.lang)
    expect(page.get_by_role("heading", name=t["confirm_title"])).to_be_visible()
    expect(page.get_by_role("button", name=t["no"], exact=True)).to_be_visible()
    if shoot:
        tour.check("confirmation")
    page.get_by_role("button", name=t["yes"], exact=True).click()


def walk_the_seed(tour: Tour, conn: psycopg.Connection[Any]) -> None:
    page, t = tour.page, words(tour.lang)
    username, insured = compte_groupe(conn)
    with tour.step("login"):
        login(tour, username)
    with tour.step("affiliation"):
        choose_affiliation(tour, insured.affiliation_number)
    with tour.step("bad-date"):
        open_form(tour, insured)
        tour.check("formulaire")
        fill_form(tour, days_ago(-2).isoformat())  # a job loss in the future
        expected = (
            "تاريخ فقدان الشغل في المستقبل."
            if tour.lang == "ar"
            else "La date de perte d'emploi est dans le futur."
        )
        expect(page.get_by_role("alert")).to_contain_text(expected)
        expect(page.get_by_label(t["job_loss_date"])).to_have_attribute("aria-invalid", "true")
        tour.check("erreur-date")
    with tour.step("file"):
        fill_form(tour, days_ago(5).isoformat())
        confirm(tour, shoot=True)
        expect(page.get_by_role("status")).to_contain_text(t["deposit_notice"])
        tour.check("demande-deposee")
    with tour.step("decided"):
        page.get_by_role("link", name=t["history"]).click()
        headings = page.locator("#historique thead th")
        for n, heading in enumerate(SEED_COLUMNS):
            expect(headings.nth(n)).to_contain_text(heading)
        row = page.locator("#historique tbody tr").filter(has_text=insured.immatriculation)
        situation = "مقبول" if tour.lang == "ar" else "Valable"
        for _ in range(300):  # the pipeline decides within seconds; a reload shows it
            if situation in (row.inner_text() if row.count() else ""):
                break
            page.wait_for_timeout(100)
            page.reload()
        expect(row).to_contain_text(situation)
        tour.check("historique")
        row.get_by_role("link").click()
        expect(page.locator("#claim-situation")).to_contain_text(situation)
        expect(page.get_by_role("heading", name=t["notifications"])).to_be_visible()
        tour.check("demande-decidee")
    with tour.step("open-claim"):
        open_form(tour, insured)
        fill_form(tour, days_ago(4).isoformat())
        confirm(tour, shoot=False)
        expected = (
            "يوجد طلب مفتوح لهذا المؤمن له."
            if tour.lang == "ar"
            else "Une demande est déjà en cours pour cet assuré."
        )
        expect(page.get_by_role("alert")).to_contain_text(expected)
        tour.check("erreur-demande-en-cours")
    with tour.step("logout"):
        page.get_by_role("button", name=t["logout"]).click()
        expect(page.get_by_role("status")).to_contain_text(t["session_ended"])
        tour.check("deconnecte")
        page.goto("/portail/demandes")
        expect(page).to_have_url(re.compile(r"/portail/connexion$"))


@pytest.mark.parametrize("lang", ["fr", "ar"])
def test_the_seeds_flow_from_login_to_a_decided_claim(
    new_tab: Any, conn: psycopg.Connection[Any], lang: str
) -> None:
    tour = new_tab(lang)
    walk_the_seed(tour, conn)
    assert len(tour.shots) >= 10
