"""The issuance desk in a real browser (Debian's Chromium through Playwright, the app served by
uvicorn): log in, create a beneficiary, issue a booklet, open its PDF; axe-core on every page."""

from __future__ import annotations

import re
from collections.abc import Iterator

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
from pass_numerique.domain.actors import SYSTEM
from pass_numerique.domain.tables import Beneficiary

pytestmark = pytest.mark.browser

if not HAS_CHROMIUM:
    pytest.skip("Debian's chromium is not installed (make browser)", allow_module_level=True)

from playwright.sync_api import Browser, Page, expect, sync_playwright  # noqa: E402

DESKTOP = {"viewport": {"width": 1280, "height": 900}, "locale": "fr-FR", "timezone_id": "Europe/Paris"}


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        yield launched
        launched.close()


@pytest.fixture
def page(browser: Browser, server: str, world: World) -> Iterator[Page]:
    context = browser.new_context(**DESKTOP)
    page = context.new_page()
    page.set_default_timeout(15_000)
    refused: list[str] = []
    page.on("console", lambda m: refused.append(m.text) if m.type == "error" else None)
    yield page
    context.close()
    # The Content-Security-Policy must not block any DSFR script, style or font.
    assert not [m for m in refused if "Content Security Policy" in m], refused


def test_desk_flow_create_beneficiary_issue_and_print(page: Page, server: str, world: World) -> None:
    page.goto(server + "/staff/desk")
    expect(page).to_have_url(re.compile(r"/staff/login\?suite=/staff/desk$"))
    assert serious_violations(page) == [], "login page"
    page.get_by_label("Adresse e-mail").fill(world.issuer.email)
    page.get_by_label("Mot de passe").fill(PASSWORD)
    page.get_by_role("button", name="Se connecter").click()

    expect(page.get_by_role("heading", name="Guichet de remise")).to_be_visible()
    expect(page.locator("#utilisateur")).to_contain_text("issuer · Référent")
    expect(page.get_by_label("Territoire")).to_have_value(str(world.north.id))  # preselected
    assert serious_violations(page) == [], "desk"
    page.get_by_label("Tranche d'âge").select_option("vingt_cinq_trente_neuf")
    page.get_by_label("Statut").select_option("sans_emploi")
    page.get_by_label("Allocataire du RSA").check(force=True)  # DSFR draws the box on the label
    page.get_by_label("Prendre en main du matériel").check(force=True)  # DSFR draws the box on the label
    page.get_by_label("E-mail", exact=True).check(force=True)  # DSFR draws the box on the label
    DOCS_IMG.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=DOCS_IMG / "staff-desk.png", full_page=True)
    page.get_by_role("button", name="Enregistrer et remettre un carnet neuf").click()

    expect(page.get_by_role("heading", name=re.compile(r"^Carnet 16-\d{4}-\d{6}"))).to_be_visible()
    expect(page.get_by_text("Le carnet a été remis. Imprimez-le maintenant.")).to_be_visible()
    assert serious_violations(page) == [], "booklet page"
    link = page.locator("#imprimer")
    expect(link).to_have_text("Imprimer le carnet (PDF)")
    href = link.get_attribute("href")
    pdf = page.context.request.get(server + href)
    assert pdf.status == 200 and pdf.headers["content-type"] == "application/pdf"
    assert pdf.body().startswith(b"%PDF")
    person = domain(Beneficiary.select().first())
    assert person["rsa"] is True and person["social_status"] == "sans_emploi"

    page.get_by_role("button", name="Se déconnecter").click()
    expect(page.get_by_role("heading", name="Connexion à l'espace des professionnels")).to_be_visible()
    assert page.context.request.get(server + href, max_redirects=0).status == 303  # session over


def test_public_site_list_is_accessible(page: Page, server: str, world: World) -> None:
    from datetime import date

    from pass_numerique.domain.partners import sites
    from pass_numerique.domain.states import AccreditationStatus

    site = domain(
        sites.create_site(
            SYSTEM,
            sites.SiteCreate(
                name="Espace public numérique du Port",
                territory_id=world.north.id,
                address="2 quai de l'Est",
                postal_code="16000",
                commune_name="Angoulême",
                opening_hours="Mardi et jeudi 14h-18h\nSamedi 9h-12h",
                contact_phone="05 45 00 00 00",
                contact_email="epn@example.fr",
            ),
        )
    )
    accredited = sites.Accreditation(status=AccreditationStatus.accredited, accredited_from=date(2020, 1, 1))
    domain(sites.set_accreditation(SYSTEM, site.id, accredited))
    page.goto(server + "/lieux/TAS-N")
    expect(page.get_by_role("link", name="epn@example.fr")).to_be_visible()
    expect(page.get_by_role("heading", name="Médiathèque Nord")).to_be_visible()
    assert serious_violations(page) == [], "public site list"
    page.screenshot(path=DOCS_IMG / "public-sites.png", full_page=True)


def _sign_in(page: Page, server: str, email: str, target: str) -> None:
    page.goto(server + target)
    page.get_by_label("Adresse e-mail").fill(email)
    page.get_by_label("Mot de passe").fill(PASSWORD)
    page.get_by_role("button", name="Se connecter").click()


def _some_activity(world: World) -> None:
    from pass_numerique.domain.issuance import beneficiaries, lifecycle
    from pass_numerique.domain.redemption import redeem

    for n, age_band in enumerate(
        ["vingt_cinq_trente_neuf", "soixante_soixante_neuf", "vingt_cinq_trente_neuf"]
    ):
        booklet = domain(
            lifecycle.issue_booklet(
                world.issuer,
                lifecycle.IssueRequest(
                    programme_id=world.programme.id,
                    beneficiary=beneficiaries.BeneficiaryCreate(
                        territory_id=world.north.id, age_band=age_band
                    ),
                ),
            )
        )
        codes = domain(lifecycle.booklet_codes(world.issuer, booklet.serial))
        domain(
            redeem.redeem(
                world.agent,
                redeem.RedeemRequest(
                    codes=[c.url for c in codes[: n + 2]], theme="email", request_id=f"browser-{n:06d}"
                ),
            )
        )


def test_dashboard_with_charts_and_tables_is_accessible(page: Page, server: str, world: World) -> None:
    _some_activity(world)
    _sign_in(page, server, world.coordinator.email, "/staff/reports")
    expect(page.get_by_role("heading", name="Tableau de bord", exact=True)).to_be_visible()
    # Each chart is an image with a name, and its figures are in a table beside it.
    expect(page.get_by_role("img", name=re.compile("Devenir des carnets imprimés"))).to_be_visible()
    expect(page.get_by_role("heading", name="Comment lire ces chiffres")).to_be_visible()
    expect(
        page.get_by_role("table", name="Chèques utilisés et montants à rembourser par lieu")
    ).to_contain_text("Médiathèque Nord")
    assert serious_violations(page) == [], "dashboard"
    page.screenshot(path=DOCS_IMG / "dashboard.png", full_page=True)
    # The filters go into the URL: the view can be shared.
    page.get_by_label("Thématique d'atelier", exact=True).select_option("email")
    page.get_by_role("button", name="Afficher").click()
    expect(page).to_have_url(re.compile(r"theme=email"))
    with page.expect_download() as download:
        page.get_by_role("link", name="tous les tableaux (XLSX)").click()
    assert download.value.suggested_filename.endswith(".xlsx")


def test_statement_names_the_site_and_the_payer_and_is_accessible(
    page: Page, server: str, world: World
) -> None:
    from datetime import datetime
    from zoneinfo import ZoneInfo

    from pass_numerique.domain.issuance import beneficiaries, lifecycle
    from pass_numerique.domain.partners import sites
    from pass_numerique.domain.redemption import redeem
    from pass_numerique.domain.reimbursement import statements

    site = world.site
    domain(
        sites.update_site(
            world.admin,
            site.id,
            sites.SiteCreate(
                name=site.name,
                territory_id=site.territory_id,
                address="12 place du Marché",
                postal_code="16000",
                commune_name="Angoulême",
                siret="12345678900012",
            ),
        )
    )
    month = statements.last_month()
    moment = datetime(int(month[:4]), int(month[5:]), 12, 14, 30, tzinfo=ZoneInfo("Europe/Paris"))
    booklet = domain(
        lifecycle.issue_booklet(
            world.issuer,
            lifecycle.IssueRequest(
                programme_id=world.programme.id,
                beneficiary=beneficiaries.BeneficiaryCreate(territory_id=world.north.id),
            ),
            now=moment,
        )
    )
    codes = domain(lifecycle.booklet_codes(world.issuer, booklet.serial))
    domain(
        redeem.redeem(
            world.agent,
            redeem.RedeemRequest(
                codes=[c.short_code for c in codes[:3]],
                theme="prendre_en_main_du_materiel",
                request_id="statement-000001",
            ),
            now=moment,
        )
    )
    _sign_in(page, server, world.coordinator.email, f"/staff/statements/{site.id}/{month}")
    expect(page.get_by_text("SIRET : 12345678900012")).to_be_visible()
    expect(page.get_by_role("heading", name="Payeur")).to_be_visible()
    expect(page.get_by_text("3 chèques utilisés")).to_be_visible()
    assert serious_violations(page) == [], "statement"
    page.screenshot(path=DOCS_IMG / "statement.png", full_page=True)


def test_public_statistics_page_is_accessible(page: Page, server: str, world: World) -> None:
    _some_activity(world)
    page.goto(server + "/statistiques")
    expect(page.get_by_role("heading", name="Le Pass numérique en chiffres")).to_be_visible()
    expect(page.get_by_role("table", name="Carnets et chèques par territoire")).to_contain_text("< 5")
    assert serious_violations(page) == [], "public statistics"
    page.screenshot(path=DOCS_IMG / "public-statistics.png", full_page=True)


def test_site_import_with_one_bad_line_then_fixed(page: Page, server: str, world: World, tmp_path) -> None:
    from test_site_directory import as_csv, three_sites

    bad, good = tmp_path / "lieux-erreur.csv", tmp_path / "lieux.csv"
    bad.write_bytes(as_csv(three_sites(bad_postal_code=True)))
    good.write_bytes(as_csv(three_sites()))
    _sign_in(page, server, world.coordinator.email, "/staff/sites")
    expect(page.get_by_role("heading", name="Lieux de médiation numérique")).to_be_visible()
    assert serious_violations(page) == [], "site list"
    page.get_by_role("link", name="Importer un fichier du standard national").click()
    page.get_by_label("Fichier des lieux").set_input_files(bad)
    page.get_by_role("button", name="Importer").click()
    expect(page.get_by_role("heading", name=re.compile("Rien n'a été importé"))).to_be_visible()
    errors = page.locator("#erreurs")
    expect(errors).to_contain_text("code_postal")
    expect(errors.locator("tbody tr")).to_have_count(1)
    assert serious_violations(page) == [], "import errors"
    page.screenshot(path=DOCS_IMG / "sites-import.png", full_page=True)
    page.get_by_label("Fichier des lieux").set_input_files(good)
    page.get_by_role("button", name="Importer").click()
    expect(page.get_by_text("L'import est terminé")).to_be_visible()
    expect(page.get_by_role("link", name="Lieu 2")).to_be_visible()
    page.get_by_role("link", name="Lieu 2").click()
    expect(page.get_by_role("heading", name="Lieu 2")).to_be_visible()
    assert serious_violations(page) == [], "site page"


def test_expired_stock_is_flagged_and_revalidated_on_the_print_run_page(
    page: Page, server: str, world: World
) -> None:
    from datetime import timedelta

    from pass_numerique.domain.clock import local_date, utcnow
    from pass_numerique.domain.issuance import stock

    old = domain(
        stock.create_print_run(
            world.coordinator,
            stock.PrintRunCreate(territory_id=world.north.id, programme_id=world.programme.id, quantity=3),
            now=utcnow() - timedelta(days=370),
        )
    )
    _sign_in(page, server, world.coordinator.email, f"/staff/print-runs/{old.id}")
    expect(page.get_by_role("heading", name="Carnets non remis bientôt périmés")).to_be_visible()
    expect(page.get_by_text(re.compile(r"3 carnet(s|\(s\)) non remis ont expiré"))).to_be_visible()
    assert serious_violations(page) == [], "print run with expired stock"
    page.locator("#peremption").screenshot(path=DOCS_IMG / "stock-expiry.png")
    new_end = local_date(utcnow()) + timedelta(days=90)
    page.get_by_label("Revalider ces carnets jusqu'au").fill(new_end.isoformat())
    page.get_by_role("button", name="Revalider plutôt que détruire").click()
    expect(page.get_by_text("Les carnets non remis ont une nouvelle date de fin de validité")).to_be_visible()
    expect(page.locator("#peremption")).to_have_count(0)


def _tab_to(page: Page, selector: str, limit: int = 80) -> None:
    """Press Tab until the element matching ``selector`` has the focus: reachable by keyboard alone."""
    seen = []
    for _ in range(limit):
        if page.evaluate("s => document.activeElement && document.activeElement.matches(s)", selector):
            return
        page.keyboard.press("Tab")
        seen.append(page.evaluate("() => document.activeElement.id || document.activeElement.tagName"))
    raise AssertionError(f"{selector} not reachable with Tab: {seen}")


def test_desk_flow_with_the_keyboard_only(page: Page, server: str, world: World) -> None:
    page.goto(server + "/staff/")
    expect(page).to_have_url(re.compile(r"/staff/login"))
    _tab_to(page, "#email")
    page.keyboard.type(world.issuer.email)
    _tab_to(page, "#password")
    page.keyboard.type(PASSWORD)
    page.keyboard.press("Enter")
    expect(page.get_by_role("heading", name=re.compile("^Bonjour"))).to_be_visible()
    _tab_to(page, "#menu-carnets-bouton")  # the menu's group, opened, then the desk
    page.keyboard.press("Enter")
    expect(page.locator('nav a[href="/staff/desk"]')).to_be_visible()  # once the submenu has opened
    _tab_to(page, 'nav a[href="/staff/desk"]')
    page.keyboard.press("Enter")
    expect(page.get_by_role("heading", name="Guichet de remise", level=1)).to_be_visible()
    _tab_to(page, "#external_ref")
    page.keyboard.type("CAF 7654321")
    _tab_to(page, "#age_band")
    page.keyboard.type("25")  # typing on a focused select picks the option that starts so: « 25 - 39 ans »
    _tab_to(page, "#rsa")
    page.keyboard.press("Space")
    _tab_to(page, 'button[value="issue"]')
    page.keyboard.press("Enter")
    expect(page.get_by_role("heading", name=re.compile(r"^Carnet 16-\d{4}-\d{6}"))).to_be_visible()
    _tab_to(page, "#imprimer")  # the PDF link is reachable too
    person = domain(Beneficiary.select().first())
    assert person["rsa"] is True and person["age_band"] == "vingt_cinq_trente_neuf"


def test_lost_booklet_is_cancelled_and_replaced(page: Page, server: str, world: World) -> None:
    from pass_numerique.domain.issuance import beneficiaries, lifecycle
    from pass_numerique.domain.redemption import redeem

    booklet = domain(
        lifecycle.issue_booklet(
            world.issuer,
            lifecycle.IssueRequest(
                programme_id=world.programme.id,
                beneficiary=beneficiaries.BeneficiaryCreate(territory_id=world.north.id),
            ),
        )
    )
    codes = domain(lifecycle.booklet_codes(world.issuer, booklet.serial))
    domain(
        redeem.redeem(
            world.agent,
            redeem.RedeemRequest(codes=[c.url for c in codes[:3]], theme="email", request_id="lost-000001"),
        )
    )
    _sign_in(page, server, world.issuer.email, f"/staff/booklets/{booklet.serial}")
    page.get_by_label("Motif de l'annulation").fill("perdu lors d'un déménagement")
    page.get_by_role("button", name="Annuler ce carnet…").click()
    expect(
        page.get_by_role("heading", name=f"Confirmez l'annulation du carnet {booklet.serial}")
    ).to_be_visible()
    expect(page.get_by_text("Un carnet de remplacement de 7 chèques")).to_be_visible()
    assert serious_violations(page) == [], "cancel confirmation"
    page.get_by_role("button", name="Confirmer l'annulation").click()
    expect(page.get_by_text("Le carnet a été annulé et remplacé")).to_be_visible()
    heading = page.get_by_role("heading", name=re.compile(r"^Carnet 16-\d{4}-\d{6}"))
    expect(heading).not_to_contain_text(booklet.serial)
    replacement = domain(lifecycle.get_booklet(world.issuer, booklet.serial))
    assert replacement.status == "cancelled" and replacement.replaced_by is not None
    fresh = domain(lifecycle.get_booklet(world.issuer, replacement.replaced_by))
    assert fresh.voucher_count == 7 and fresh.remaining == 7
    # The replacement names the booklet it replaces and tells its story.
    expect(page.get_by_role("link", name=f"carnet {booklet.serial}")).to_be_visible()
    expect(page.get_by_text(f"carnet {booklet.serial} : Carnet annulé")).to_be_visible()
    assert serious_violations(page) == [], "replacement page"
