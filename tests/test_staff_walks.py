"""Each role's main task walked in a real browser, on a desktop screen (1,280 px) and a phone
(360 px): the grouped menu on one line, the DSFR burger menu on the phone, axe-core clean on
every page, no sideways scrolling. The screenshots of docs/staff-app.md are taken here."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

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

pytestmark = pytest.mark.browser

if not HAS_CHROMIUM:
    pytest.skip("Debian's chromium is not installed (make browser)", allow_module_level=True)

from playwright.sync_api import Browser, Page, expect, sync_playwright  # noqa: E402

SCREENS: dict[str, dict[str, Any]] = {
    "desktop": {"viewport": {"width": 1280, "height": 900}},
    "phone": {
        "viewport": {"width": 360, "height": 800},
        "device_scale_factor": 2,
        "is_mobile": True,
        "has_touch": True,
    },
}


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        yield launched
        launched.close()


def _page(browser: Browser, screen: str) -> Page:
    context = browser.new_context(**SCREENS[screen], locale="fr-FR", timezone_id="Europe/Paris")
    page = context.new_page()
    page.set_default_timeout(15_000)
    return page


@pytest.fixture(params=list(SCREENS))
def screen(request: pytest.FixtureRequest) -> str:
    return request.param


@pytest.fixture
def page(browser: Browser, screen: str, server: str, world: World) -> Iterator[Page]:
    opened = _page(browser, screen)
    yield opened
    opened.context.close()


def _sign_in(page: Page, server: str, email: str) -> None:
    page.goto(server + "/staff/")
    page.get_by_label("Adresse e-mail").fill(email)
    page.get_by_label("Mot de passe").fill(PASSWORD)
    page.get_by_role("button", name="Se connecter").click()
    expect(page.get_by_role("heading", name=re.compile("^Bonjour"))).to_be_visible()


def _usable(page: Page, what: str) -> None:
    """axe-core finds nothing serious, and nothing scrolls sideways (a phone's width included)."""
    assert serious_violations(page) == [], what
    overflow = page.evaluate("() => document.documentElement.scrollWidth - window.innerWidth")
    assert overflow <= 0, f"{what}: {overflow} px wider than the screen"


def _menu_on_one_line(page: Page) -> None:
    items = page.locator("#navigation .fr-nav__list > .fr-nav__item")
    tops = {round(box["y"]) for box in (items.nth(i).bounding_box() for i in range(items.count())) if box}
    height = page.locator("#navigation .fr-nav__list").bounding_box()["height"]
    assert len(tops) == 1 and height < 70, (tops, height)


def _open_menu(page: Page, screen: str, group: str | None, link: str) -> None:
    """Open a page from the menu: through the burger button on a phone, a group's submenu if any."""
    if screen == "phone":
        page.get_by_role("button", name="Menu", exact=True).click()
    navigation = page.locator("#navigation")
    if group:
        navigation.get_by_role("button", name=group).click()
    navigation.get_by_role("link", name=link, exact=True).click()


def test_issuer_issues_a_booklet_from_the_home_page(
    page: Page, screen: str, server: str, world: World
) -> None:
    _sign_in(page, server, world.issuer.email)
    _usable(page, "issuer's home")
    if screen == "desktop":
        _menu_on_one_line(page)
        page.get_by_role("link", name="Remettre un carnet").click()
    else:
        _open_menu(page, screen, "Carnets", "Guichet de remise")
    expect(page.get_by_role("heading", name="Guichet de remise", level=1)).to_be_visible()
    _usable(page, "desk")
    page.get_by_label("E-mail", exact=True).check(force=True)  # DSFR draws the box on the label
    page.get_by_label("Aide aux démarches administratives").check(force=True)
    page.get_by_role("button", name="Enregistrer et remettre un carnet neuf").click()
    expect(page.get_by_text("Le carnet a été remis. Imprimez-le maintenant.")).to_be_visible()
    _usable(page, "booklet")


def test_the_desk_lists_every_error_at_the_top_and_focuses_the_list(
    browser: Browser, server: str, world: World
) -> None:
    from pass_numerique.domain.actors import SYSTEM
    from pass_numerique.domain.scheme import programmes

    domain(programmes.create_programme(SYSTEM, programmes.ProgrammeCreate(name="Second", funders=["État"])))
    page = _page(browser, "desktop")
    _sign_in(page, server, world.admin.email)  # two territories, two programmes: nothing preselected
    page.goto(server + "/staff/desk")
    page.get_by_role("button", name="Enregistrer et remettre un carnet neuf").click()
    summary = page.locator("#erreurs")
    expect(summary).to_contain_text("2 erreurs empêchent l'enregistrement")
    expect(summary).to_be_focused()
    assert page.title().startswith("Erreur")
    _usable(page, "desk with errors")
    page.screenshot(path=DOCS_IMG / "staff-desk-errors.png")
    summary.get_by_role("link", name=re.compile("^Territoire")).click()
    expect(page).to_have_url(re.compile("#territory_id$"))
    page.context.close()


def _past_month_activity(world: World) -> None:
    """Stock allocated 40 days ago and never issued, and redemptions of a month not closed yet."""
    from datetime import timedelta

    from pass_numerique.domain.clock import utcnow
    from pass_numerique.domain.issuance import beneficiaries, lifecycle, stock
    from pass_numerique.domain.redemption import redeem

    then = utcnow() - timedelta(days=40)
    printed = domain(
        stock.create_print_run(
            world.coordinator,
            stock.PrintRunCreate(territory_id=world.north.id, programme_id=world.programme.id, quantity=3),
            now=then,
        )
    )
    domain(
        stock.allocate(
            world.coordinator,
            stock.AllocateRequest(structure_id=world.structure.id, print_run_id=printed.id, count=3),
            now=then,
        )
    )
    booklet = domain(
        lifecycle.issue_booklet(
            world.issuer,
            lifecycle.IssueRequest(
                programme_id=world.programme.id,
                beneficiary=beneficiaries.BeneficiaryCreate(territory_id=world.north.id),
            ),
            now=then,
        )
    )
    codes = domain(lifecycle.booklet_codes(world.issuer, booklet.serial))
    request = redeem.RedeemRequest(codes=[c.url for c in codes[:2]], theme="email", request_id="walk-000001")
    domain(redeem.redeem(world.agent, request, now=then + timedelta(days=1)))


def test_coordinator_allocates_stock_and_opens_the_dashboard(
    page: Page, screen: str, server: str, world: World
) -> None:
    from pass_numerique.domain.issuance import stock

    _past_month_activity(world)
    run = domain(
        stock.create_print_run(
            world.coordinator,
            stock.PrintRunCreate(territory_id=world.north.id, programme_id=world.programme.id, quantity=5),
        )
    )
    _sign_in(page, server, world.coordinator.email)
    tasks = page.locator("#a-faire")
    expect(tasks.get_by_role("link", name="MDS Nord")).to_be_visible()  # stock sleeping for 40 days
    expect(tasks.get_by_role("link", name=re.compile("^Relevés de"))).to_be_visible()  # a month to close
    _usable(page, "coordinator's home")
    if screen == "desktop":
        _menu_on_one_line(page)
        page.screenshot(path=DOCS_IMG / "staff-home.png", full_page=True)
        page.get_by_role("button", name="Carnets").click()
        expect(page.locator("#menu-carnets").get_by_role("link", name="Guichet de remise")).to_be_visible()
        page.wait_for_timeout(500)  # the submenu's opening transition
        page.screenshot(path=DOCS_IMG / "staff-menu.png", clip={"x": 0, "y": 0, "width": 1280, "height": 380})
        page.get_by_role("link", name="Tirages et stock").click()
    else:
        page.get_by_role("button", name="Menu", exact=True).click()
        expect(page.locator("#navigation").get_by_role("button", name="Partenaires")).to_be_visible()
        page.screenshot(path=DOCS_IMG / "staff-menu-phone.png")
        page.locator("#navigation").get_by_role("button", name="Carnets").click()
        page.locator("#navigation").get_by_role("link", name="Tirages et stock").click()
    expect(page.get_by_role("heading", name="Tirages de carnets")).to_be_visible()
    page.get_by_role("link", name=f"Tirage n° {run.id}").click()
    page.get_by_label("Structure de distribution").select_option(label="MDS Nord")
    page.get_by_label("Nombre de carnets").fill("2")
    page.get_by_role("button", name="Attribuer", exact=True).click()
    expect(page.get_by_text("Les carnets ont été attribués à la structure.")).to_be_visible()
    _usable(page, "print run after allocation")
    _open_menu(page, screen, "Suivi", "Tableau de bord")
    expect(page.get_by_role("heading", name="Tableau de bord", exact=True)).to_be_visible()
    _usable(page, "dashboard")


def test_site_agent_goes_from_the_home_page_to_the_scanner(
    page: Page, screen: str, server: str, world: World
) -> None:
    _sign_in(page, server, world.agent.email)
    expect(page.get_by_text("chèques encaissés aujourd'hui")).to_be_visible()
    _usable(page, "site agent's home")
    if screen == "desktop":
        _menu_on_one_line(page)
    page.locator("#contenu").get_by_role("link", name="Encaisser un chèque").click()
    expect(page).to_have_url(re.compile("/scan$"))


def test_viewer_sees_the_key_figures(page: Page, screen: str, server: str, world: World) -> None:
    _sign_in(page, server, world.viewer.email)
    figures = page.locator("#chiffres-cles")
    expect(figures).to_contain_text("carnets remis")
    expect(page.get_by_text("pas encore disponibles")).to_have_count(0)
    _usable(page, "viewer's home")
    if screen == "desktop":
        _menu_on_one_line(page)
    _open_menu(page, screen, None, "Tableau de bord")
    expect(page.get_by_role("heading", name="Tableau de bord", exact=True)).to_be_visible()


def test_public_visitor_reads_the_site_list_and_the_legal_pages(
    page: Page, screen: str, server: str, world: World
) -> None:
    page.goto(server + "/lieux/TAS-N")
    expect(page.get_by_role("heading", name="Médiathèque Nord")).to_be_visible()
    _usable(page, "public site list")
    footer = page.locator("footer")
    expect(footer.get_by_role("link", name="Accessibilité : non conforme")).to_be_visible()
    for link, heading in (
        ("Mentions légales", "Mentions légales"),
        ("Données personnelles", "Données personnelles"),
        ("Accessibilité : non conforme", "Déclaration d'accessibilité"),
    ):
        page.locator("footer").get_by_role("link", name=link).click()
        expect(page.get_by_role("heading", name=heading, level=1)).to_be_visible()
        _usable(page, heading)
    if screen == "desktop":
        page.screenshot(path=DOCS_IMG / "public-accessibility.png", full_page=True)
