"""A print run whose job died with its server, in a real browser (web/staff/print_runs.py): the page
says so, stops reloading, passes axe-core and prints again from its "Relancer" button."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta

import pytest

from browser_support import (  # noqa: F401 - the fixtures are used by name
    ARGS,
    CHROMIUM,
    DOCS_IMG,
    HAS_CHROMIUM,
    domain,
    empty_database_fixture,
    serious_violations,
    server_fixture,
    world_fixture,
)
from conftest import PASSWORD, World
from pass_numerique.domain.clock import utcnow
from pass_numerique.domain.issuance import stock
from pass_numerique.domain.printing import print_jobs

pytestmark = pytest.mark.browser

if not HAS_CHROMIUM:
    pytest.skip("Debian's chromium is not installed (make browser)", allow_module_level=True)

from playwright.sync_api import Browser, Page, expect, sync_playwright  # noqa: E402


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        yield launched
        launched.close()


@pytest.fixture
def page(browser: Browser) -> Iterator[Page]:
    context = browser.new_context(viewport={"width": 1280, "height": 900}, locale="fr-FR")
    page = context.new_page()
    page.set_default_timeout(30_000)
    yield page
    context.close()


def test_a_dead_print_job_is_shown_failed_and_printed_again(page: Page, server: str, world: World) -> None:
    created = domain(
        stock.create_print_run(
            world.coordinator,
            stock.PrintRunCreate(territory_id=world.north.id, programme_id=world.programme.id, quantity=3),
        )
    )
    long_ago = utcnow() - print_jobs.STALE_AFTER - timedelta(minutes=1)
    job, _ = domain(print_jobs.start_job(world.coordinator, created.id, now=long_ago))
    domain(print_jobs.claim_job(job.id, now=long_ago))
    domain(print_jobs.record_progress(job.id, 1, 3, now=long_ago))  # running at 33 %, then silence

    page.goto(f"{server}/staff/login?suite=/staff/print-runs/{created.id}")
    page.get_by_label("Adresse e-mail").fill(world.coordinator.email)
    page.get_by_label("Mot de passe").fill(PASSWORD)
    page.get_by_role("button", name="Se connecter").click()

    alert = page.get_by_role("alert")
    expect(alert).to_contain_text("L'impression a échoué")
    expect(alert).to_contain_text("Le serveur s'est arrêté pendant l'impression ; relancez-la.")
    assert page.locator('meta[http-equiv="refresh"]').count() == 0
    assert serious_violations(page) == [], "failed print job"
    DOCS_IMG.mkdir(parents=True, exist_ok=True)
    page.locator("section[aria-labelledby=titre-impression]").screenshot(
        path=DOCS_IMG / "print-job-failed.png"
    )

    page.get_by_role("button", name="Relancer l'impression").click()
    expect(page.get_by_role("link", name="Télécharger le PDF")).to_be_visible(timeout=90_000)
    expect(page.locator("#etat-impression")).to_contain_text("Terminée : 3 carnets sur 3, 9 pages")
