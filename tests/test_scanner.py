"""The phone scanner in a real browser: Debian's Chromium driven by Playwright, against the
real application served by uvicorn on a free local port and the suite's test database."""

from __future__ import annotations

import json
import os
import re
import shutil
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from browser_support import ARGS as BASE_ARGS
from browser_support import (  # noqa: F401 - the fixtures are used by name
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
from pass_numerique.domain.accounts import users
from pass_numerique.domain.actors import Role
from pass_numerique.domain.errors import DomainError
from pass_numerique.domain.issuance import beneficiaries, lifecycle
from pass_numerique.domain.redemption import lookup, redeem
from pass_numerique.domain.tables import ApiToken, Redemption, RedemptionConflict
from pass_numerique.settings import get_settings

pytestmark = pytest.mark.browser

PHONE = {
    "viewport": {"width": 360, "height": 800},
    "device_scale_factor": 3,
    "is_mobile": True,
    "has_touch": True,
    "locale": "fr-FR",
    "timezone_id": "Europe/Paris",
}
ARGS = [
    *BASE_ARGS,
    "--use-fake-ui-for-media-stream",
    "--use-fake-device-for-media-stream",
]

if not HAS_CHROMIUM:
    pytest.skip("Debian's chromium is not installed (make browser)", allow_module_level=True)

from playwright.sync_api import Browser, Page, expect, sync_playwright  # noqa: E402


@pytest.fixture(scope="session")
def camera_file() -> Iterator[Path]:
    folder = Path(tempfile.mkdtemp(prefix="pn-camera-"))
    path = folder / "camera.y4m"
    write_y4m(path, None)
    yield path
    shutil.rmtree(folder, ignore_errors=True)


@pytest.fixture(scope="module")
def browser(camera_file: Path) -> Iterator[Browser]:
    # Playwright's sync API owns this thread's event loop while it runs: the domain calls of
    # these tests (and the ``world`` and reset fixtures above) run in a worker thread
    # (``domain``), and Playwright stops at the end of this module so later modules can
    # use ``asyncio.run`` again.
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(
            executable_path=CHROMIUM,
            args=[*ARGS, f"--use-file-for-fake-video-capture={camera_file}"],
        )
        yield launched
        launched.close()


@pytest.fixture
def page(browser: Browser, server: str, world: World) -> Iterator[Page]:
    context = browser.new_context(**PHONE)
    context.grant_permissions(["camera"], origin=server)
    page = context.new_page()
    page.set_default_timeout(15_000)
    yield page
    context.close()


def write_y4m(path: Path, text: str | None, width: int = 640, height: int = 480, frames: int = 10) -> None:
    """A fake camera video: the voucher's QR code (grey levels) on a white page, 4:2:0."""
    from PIL import Image

    canvas = Image.new("L", (width, height), 255)
    if text:
        import qrcode

        qr = qrcode.QRCode(border=4, box_size=1, error_correction=qrcode.constants.ERROR_CORRECT_M)
        qr.add_data(text)
        qr.make(fit=True)
        image = qr.make_image(fill_color="black", back_color="white").convert("L")
        side = min(width, height) - 80
        image = image.resize((side, side), Image.Resampling.NEAREST)
        canvas.paste(image, ((width - side) // 2, (height - side) // 2))
    y = canvas.tobytes()
    chroma = bytes([128]) * ((width // 2) * (height // 2))
    tmp = path.with_suffix(".tmp")
    with tmp.open("wb") as handle:
        handle.write(f"YUV4MPEG2 W{width} H{height} F30:1 Ip A1:1 C420jpeg\n".encode())
        for _ in range(frames):
            handle.write(b"FRAME\n" + y + chroma + chroma)
    os.replace(tmp, path)  # atomically: Chromium re-reads the file when capture starts


def issue(world: World) -> tuple[lifecycle.BookletOut, list[lifecycle.VoucherCode]]:
    booklet = domain(
        lifecycle.issue_booklet(
            world.issuer,
            lifecycle.IssueRequest(
                programme_id=world.programme.id,
                beneficiary=beneficiaries.BeneficiaryCreate(territory_id=world.north.id),
            ),
        )
    )
    return booklet, domain(lifecycle.booklet_codes(world.issuer, booklet.serial))


def log_in(page: Page, server: str, world: World, path: str = "/scan") -> None:
    """Open the scanner: it sends an agent without a session to the staff sign-in, and back."""
    page.goto(server + path)
    expect(page).to_have_url(re.compile(r"/staff/login\?suite=/scan$"))
    page.get_by_label("Adresse e-mail").fill(world.agent.email)
    page.get_by_label("Mot de passe").fill(PASSWORD)
    page.get_by_role("button", name="Se connecter").click()
    expect(page.locator("#site-name")).to_have_text("Médiathèque Nord")
    page.wait_for_function("() => document.body.dataset.bundle === 'ready'")


def type_code(page: Page, code: str) -> None:
    field = page.get_by_label("Ou saisissez le code du chèque")
    field.fill("")
    field.press_sequentially(code, delay=10)
    page.get_by_role("button", name="Vérifier le code").click()


def choose_theme_and_redeem(page: Page) -> None:
    expect(page.locator("#view-confirm")).to_be_visible()
    page.get_by_label("Thème de l'atelier").select_option(label="E-mail")
    page.locator("#redeem").click()


def test_manual_entry_redeems_then_refuses_the_second_time_with_the_site(
    page: Page, server: str, world: World
) -> None:
    booklet, codes = issue(world)
    log_in(page, server, world)
    # Typed in lower case without dashes: the field groups it as the agent types.
    typed = codes[0].short_code.replace("-", "").lower()
    field = page.get_by_label("Ou saisissez le code du chèque")
    field.press_sequentially(typed[:6], delay=10)
    expect(field).to_have_value(typed[:4].upper() + "-" + typed[4:6].upper())
    # A wrong check character is flagged before anything is sent.
    wrong = codes[0].short_code[:-1] + ("0" if codes[0].short_code[-1] != "0" else "1")
    type_code(page, wrong)
    expect(page.locator("#code-error")).to_contain_text("caractère de contrôle")
    expect(page.locator("#view-scan")).to_be_visible()

    type_code(page, typed)
    expect(page.locator("#confirm-title")).to_have_text("Chèque valable")
    expect(page.locator("#c-serial")).to_have_text(booklet.serial)
    expect(page.locator("#c-remaining")).to_have_text("10 sur 10")
    choose_theme_and_redeem(page)
    expect(page.locator("#result-title")).to_have_text("Chèque encaissé")
    expect(page.locator("#today-list")).to_contain_text(f"{booklet.serial} n° 1")

    page.get_by_role("button", name="Scanner un autre chèque").click()
    type_code(page, codes[0].short_code)
    expect(page.locator("#result-title")).to_have_text("Chèque refusé")
    expect(page.locator("#result-message")).to_contain_text("déjà été utilisé")
    expect(page.locator("#result-message")).to_contain_text("Médiathèque Nord")
    assert page.evaluate("document.body.dataset.refusal") == "already_redeemed"
    assert domain(Redemption.count()) == 1


def test_several_vouchers_of_one_booklet_and_undo(page: Page, server: str, world: World) -> None:
    booklet, codes = issue(world)
    log_in(page, server, world)
    type_code(page, codes[1].short_code)
    page.get_by_role("button", name="+ Ajouter un chèque du même carnet").click()
    type_code(page, codes[2].short_code)
    expect(page.locator("#confirm-title")).to_have_text("2 chèques valables")
    expect(page.locator("#c-numbers")).to_have_text("n° 2, n° 3")
    choose_theme_and_redeem(page)
    expect(page.locator("#result-title")).to_have_text("2 chèques encaissés")
    assert domain(Redemption.count()) == 2
    page.get_by_role("button", name=f"Annuler l'encaissement du chèque {booklet.serial} numéro 3").click()
    page.get_by_role("button", name="Confirmer l'annulation").click()
    expect(page.locator("#today-list")).to_contain_text("Annulé")
    assert domain(Redemption.count().where(Redemption.undone_at.is_null())) == 1


def test_camera_decodes_a_real_voucher_qr_and_redeems_it(
    browser: Browser, server: str, world: World, camera_file: Path
) -> None:
    _, codes = issue(world)
    write_y4m(camera_file, codes[4].url)
    context = browser.new_context(**PHONE)
    context.grant_permissions(["camera"], origin=server)
    page = context.new_page()
    page.set_default_timeout(15_000)
    try:
        log_in(page, server, world)
        expect(page.locator("#confirm-title")).to_have_text("Chèque valable", timeout=20_000)
        # Linux Chromium has no BarcodeDetector: the vendored jsQR decoded the frame.
        expect(page.locator("body")).to_have_attribute("data-camera", "jsqr")
        expect(page.locator("#c-numbers")).to_have_text("n° 5")
        choose_theme_and_redeem(page)
        expect(page.locator("#result-title")).to_have_text("Chèque encaissé")
        assert domain(Redemption.count()) == 1
    finally:
        context.close()
        write_y4m(camera_file, None)


def test_voucher_url_opened_by_the_phone_camera_lands_on_confirmation(
    page: Page, server: str, world: World
) -> None:
    _, codes = issue(world)
    token_path = "/v/" + codes[3].url.rsplit("/v/", 1)[1]
    log_in(page, server, world)
    page.goto(server + token_path)
    expect(page.locator("#confirm-title")).to_have_text("Chèque valable")
    expect(page.locator("#c-numbers")).to_have_text("n° 4")
    assert page.evaluate("location.pathname") == "/scan"  # the token does not stay in history


def test_offline_queue_counts_each_redemption_once_and_flags_conflicts(
    page: Page, server: str, world: World
) -> None:
    _, codes = issue(world)
    log_in(page, server, world)
    page.context.set_offline(True)
    expect(page.locator("#net-status")).to_be_visible()
    # A QR URL (as a wedge scanner types it) is checked offline with the public key.
    type_code(page, codes[0].url)
    expect(page.locator("#confirm-warning")).to_contain_text("Vérifié hors connexion")
    choose_theme_and_redeem(page)
    expect(page.locator("#result-title")).to_have_text("En attente d'envoi")
    # The same voucher again: refused, it is already in the queue.
    page.get_by_role("button", name="Scanner un autre chèque").click()
    type_code(page, codes[0].url)
    expect(page.locator("#result-message")).to_contain_text("en attente d'envoi")
    # A typed code cannot be verified offline: queued with a warning.
    page.get_by_role("button", name="Scanner un autre chèque").click()
    type_code(page, codes[1].short_code)
    expect(page.locator("#confirm-warning")).to_contain_text("n'a pas pu être vérifié")
    choose_theme_and_redeem(page)
    # Meanwhile another site redeems the third voucher ... which this phone then accepts offline.
    domain(
        redeem.redeem(
            world.agent_south,
            redeem.RedeemRequest(codes=[codes[2].url], theme="email", request_id="elsewhere-0001"),
        )
    )
    page.get_by_role("button", name="Scanner un autre chèque").click()
    type_code(page, codes[2].url)
    choose_theme_and_redeem(page)
    expect(page.locator("#today-list .tag.pending")).to_have_count(3)
    assert domain(Redemption.count()) == 1

    page.context.set_offline(False)
    page.wait_for_function("() => document.body.dataset.queue === '0'", timeout=20_000)
    page.evaluate("window.pnScanner.syncQueue()")  # a second sync changes nothing
    expect(page.locator("#today-list .tag.conflict")).to_have_count(1)
    expect(page.locator("#today-list")).to_contain_text("Signalé au coordinateur")
    live = domain(
        Redemption.select(Redemption.voucher.number.as_alias("n")).where(Redemption.undone_at.is_null())
    )
    assert sorted(r["n"] for r in live) == [1, 2, 3]  # 3 by the other site, once each
    conflicts = domain(RedemptionConflict.select())
    assert len(conflicts) == 1 and conflicts[0]["refusal_code"] == "already_redeemed"


def test_each_redemption_gets_its_own_request_id_and_a_retry_keeps_it(
    page: Page, server: str, world: World
) -> None:
    """The server redeems but its answer is lost: the phone queues the redemption under the same
    request id, and its upload is answered from the stored answer (one redemption). The next
    redemption gets a new id, so no answer is ever given to another voucher (request_id_reused)."""
    _, codes = issue(world)
    log_in(page, server, world)
    lost: list[str] = []

    def lose_the_answer(route) -> None:
        if lost:
            route.continue_()
            return
        route.fetch()  # the server redeems ...
        lost.append(json.loads(route.request.post_data or "{}")["request_id"])
        route.abort("connectionreset")  # ... and the phone never hears of it

    page.route("**/api/v1/redemptions", lose_the_answer)
    type_code(page, codes[0].short_code)
    choose_theme_and_redeem(page)
    expect(page.locator("#result-title")).to_have_text("En attente d'envoi")
    assert domain(Redemption.count()) == 1
    page.evaluate("window.pnScanner.syncQueue()")
    page.wait_for_function("() => document.body.dataset.queue === '0'", timeout=20_000)
    page.get_by_role("button", name="Scanner un autre chèque").click()
    type_code(page, codes[1].short_code)
    choose_theme_and_redeem(page)
    expect(page.locator("#result-title")).to_have_text("Chèque encaissé")
    rows = domain(Redemption.select(Redemption.request_id, Redemption.voucher.number.as_alias("n")))
    assert sorted(r["n"] for r in rows) == [1, 2]  # each voucher once: the upload was a replay
    first = next(r["request_id"] for r in rows if r["n"] == 1)
    second = next(r["request_id"] for r in rows if r["n"] == 2)
    assert first == lost[0] and second != first
    assert domain(RedemptionConflict.count()) == 0


def test_too_many_attempts_keeps_the_queue_and_tells_the_agent_to_wait(
    page: Page, server: str, world: World
) -> None:
    _, codes = issue(world)
    log_in(page, server, world)
    page.context.set_offline(True)
    type_code(page, codes[0].url)
    choose_theme_and_redeem(page)
    expect(page.locator("#result-title")).to_have_text("En attente d'envoi")
    for _ in range(get_settings().max_failed_attempts_per_agent):  # someone guessed codes meanwhile
        with pytest.raises(DomainError):
            domain(lookup.lookup(world.agent, "ZZZZ-ZZZZ-ZZZZ"))
    with page.expect_response(lambda r: "/api/v1/scanner/sync" in r.url) as upload:
        page.context.set_offline(False)
    assert upload.value.status == 429
    # Not a conflict: the item waits for the next sync.
    expect(page.locator("#today-list .tag.pending")).to_have_count(1)
    expect(page.locator("#today-list .tag.conflict")).to_have_count(0)
    assert domain(Redemption.count()) == 0
    page.get_by_role("button", name="Scanner un autre chèque").click()
    type_code(page, codes[1].short_code)
    expect(page.locator("#result-title")).to_have_text("Trop de tentatives")
    expect(page.locator("#result-detail")).to_contain_text("Rien n'a été encaissé")


def test_a_temporary_password_is_sent_to_the_staff_pages(page: Page, server: str, world: World) -> None:
    temporary = users.temporary_password()
    domain(
        users.create_user(
            world.admin,
            users.UserCreate(
                email="nina@test.fr",
                display_name="Nina",
                role=Role.site_agent,
                password=temporary,
                site_id=world.site.id,
                must_change_password=True,
            ),
        )
    )
    page.goto(server + "/scan")  # the scanner's sign-in is the staff one ...
    page.get_by_label("Adresse e-mail").fill("nina@test.fr")
    page.get_by_label("Mot de passe").fill(temporary)
    page.get_by_role("button", name="Se connecter").click()
    expect(page).to_have_url(
        re.compile(r"/staff/password\?fait=must_change$")
    )  # ... which asks for a new one
    page.goto(server + "/scan")  # and the scanner gets no token until it is chosen
    expect(page.locator("#login-error")).to_contain_text("Mot de passe temporaire")
    expect(page.locator("#view-login")).to_be_visible()
    assert domain(ApiToken.count().where(ApiToken.revoked_at.is_null())) == 0


def _serious(page: Page) -> list[dict]:
    return serious_violations(page)


def test_accessibility_and_screenshots_of_scan_confirmation_and_refusal(
    page: Page, server: str, world: World
) -> None:
    _, codes = issue(world)
    domain(
        redeem.redeem(
            world.agent,
            redeem.RedeemRequest(codes=[codes[1].url], theme="email", request_id="earlier-00001"),
        )
    )
    page.goto(server + "/scan")
    expect(page).to_have_url(re.compile(r"/staff/login"))
    assert _serious(page) == [], "login screen"
    log_in(page, server, world)
    expect(page.locator("#today-list li")).to_have_count(1)
    assert _serious(page) == [], "scan screen"

    type_code(page, codes[0].short_code)
    expect(page.locator("#confirm-title")).to_have_text("Chèque valable")
    page.get_by_label("Thème de l'atelier").select_option(label="Aide aux démarches administratives")
    assert _serious(page) == [], "confirmation screen"
    DOCS_IMG.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=DOCS_IMG / "scanner-confirm.png", full_page=True)

    page.get_by_role("button", name="Abandonner").click()
    type_code(page, codes[1].short_code)
    expect(page.locator("#result-title")).to_have_text("Chèque refusé")
    assert _serious(page) == [], "refusal screen"
    page.screenshot(path=DOCS_IMG / "scanner-refusal.png", full_page=True)


# Slow 4G-like profile: 150 ms latency, 1.6 Mbit/s down, 750 kbit/s up, CPU slowed 4x.
SLOW_PHONE = {"offline": False, "latency": 150, "downloadThroughput": 200_000, "uploadThroughput": 93_750}


def test_page_weight_and_time_to_interactive_on_a_slow_phone(page: Page, server: str, world: World) -> None:
    """Measured, printed (see docs/scanner.md) and held to a budget."""
    cdp = page.context.new_cdp_session(page)
    cdp.send("Network.enable")
    cdp.send("Network.setCacheDisabled", {"cacheDisabled": True})
    cdp.send("Network.emulateNetworkConditions", SLOW_PHONE)
    cdp.send("Emulation.setCPUThrottlingRate", {"rate": 4})
    sizes: dict[str, int] = {}
    urls: dict[str, str] = {}
    cdp.on("Network.requestWillBeSent", lambda e: urls.__setitem__(e["requestId"], e["request"]["url"]))

    def finished(event: dict) -> None:
        url = urls.get(event["requestId"], "?")
        sizes[url] = max(sizes.get(url, 0), int(event["encodedDataLength"]))

    def received(event: dict) -> None:
        url = urls.get(event["requestId"], "?")
        sizes[url] = sizes.get(url, 0) + int(event["encodedDataLength"])

    cdp.on("Network.loadingFinished", finished)
    cdp.on("Network.dataReceived", received)

    started = time.monotonic()
    page.goto(server + "/scan")
    expect(page.get_by_role("button", name="Se connecter")).to_be_enabled()
    first_visit = time.monotonic() - started
    login_bytes = sum(sizes.values())

    page.get_by_label("Adresse e-mail").fill(world.agent.email)
    page.get_by_label("Mot de passe").fill(PASSWORD)
    page.get_by_role("button", name="Se connecter").click()
    page.wait_for_function("() => document.body.dataset.bundle === 'ready' && !!document.body.dataset.camera")
    ready = "() => document.body.dataset.bundle === 'ready' && !!document.body.dataset.camera"
    page.wait_for_function(ready)

    def visit() -> tuple[float, int, int]:
        sizes.clear()
        started = time.monotonic()
        page.reload()
        page.wait_for_function(ready)
        elapsed = time.monotonic() - started
        page.wait_for_timeout(300)
        static = sum(v for k, v in sizes.items() if "/api/" not in k)
        return elapsed, static, sum(sizes.values()) - static

    # Signed in, nothing cached (service worker blocked): the worst case of a returning agent.
    session = page.evaluate("() => localStorage.getItem('pn-scan-session')")
    cold_context = page.context.browser.new_context(**PHONE, service_workers="block")
    cold_context.grant_permissions(["camera"], origin=server)
    cold_context.add_init_script(f"localStorage.setItem('pn-scan-session', {json.dumps(session)})")
    cold_page = cold_context.new_page()
    cold_cdp = cold_context.new_cdp_session(cold_page)
    for target in (cold_cdp,):
        target.send("Network.enable")
        target.send("Network.setCacheDisabled", {"cacheDisabled": True})
        target.send("Network.emulateNetworkConditions", SLOW_PHONE)
        target.send("Emulation.setCPUThrottlingRate", {"rate": 4})
        target.on(
            "Network.requestWillBeSent", lambda e: urls.__setitem__(e["requestId"], e["request"]["url"])
        )
        target.on("Network.loadingFinished", finished)
        target.on("Network.dataReceived", received)
    sizes.clear()
    started = time.monotonic()
    cold_page.goto(server + "/scan")
    cold_page.wait_for_function(ready)
    cold = time.monotonic() - started
    cold_page.wait_for_timeout(500)
    cold_static = sum(v for k, v in sizes.items() if "/api/" not in k)
    api_bytes = sum(sizes.values()) - cold_static
    cold_sizes = dict(sizes)
    cold_context.close()
    page.evaluate("async () => { await navigator.serviceWorker.register('/scan-sw.js'); }")
    page.wait_for_timeout(3000)  # let the service worker install its cache over the slow link
    warm, warm_static, _ = visit()
    print(
        f"\nscanner (slow 4G, CPU x4): login screen {login_bytes / 1024:.1f} KiB, interactive in "
        f"{first_visit:.2f} s | signed in, no cache: camera + decoder ready in {cold:.2f} s, "
        f"{cold_static / 1024:.1f} KiB + API {api_bytes / 1024:.1f} KiB | service worker cache: "
        f"{warm:.2f} s, {warm_static / 1024:.1f} KiB"
    )
    for url, size in sorted(cold_sizes.items(), key=lambda kv: -kv[1])[:8]:
        print(f"  {size / 1024:7.1f} KiB  {url.replace(server, '')[:90]}")
    assert login_bytes < 60 * 1024 and first_visit < 5
    assert cold_static < 150 * 1024 and cold < 8 and warm < cold


# ---------------------------------------------------------------------------
# issue 17: a 360 × 740 phone, one sign-in, the voucher's public page

SMALL_PHONE = {**PHONE, "viewport": {"width": 360, "height": 740}}
DESKTOP = {"viewport": {"width": 1280, "height": 900}, "locale": "fr-FR", "timezone_id": "Europe/Paris"}
EUROS = re.compile(r"^10,00\s€$")  # Intl writes a narrow no-break space before the sign
# A real département's address: its printed QR URL is longer than the tests' http://testserver/v/….
LONG_PUBLIC_URL = "https://pass-numerique.departement-exemple.fr"


def no_horizontal_overflow(page: Page) -> bool:
    return page.evaluate("document.scrollingElement.scrollWidth") <= page.viewport_size["width"]


def national_programme_booklet(world: World) -> tuple[lifecycle.BookletOut, list[lifecycle.VoucherCode]]:
    """A booklet of a programme that funds every theme of the national list."""
    from pass_numerique.domain.actors import SYSTEM
    from pass_numerique.domain.scheme import programmes, value_lists

    themes = list(value_lists.value_lists()["thematique"])
    programme = domain(
        programmes.create_programme(SYSTEM, programmes.ProgrammeCreate(name="Pass national", themes=themes))
    )
    booklet = domain(
        lifecycle.issue_booklet(
            world.issuer,
            lifecycle.IssueRequest(
                programme_id=programme.id,
                beneficiary=beneficiaries.BeneficiaryCreate(territory_id=world.north.id),
            ),
        )
    )
    return booklet, domain(lifecycle.booklet_codes(world.issuer, booklet.serial))


@pytest.fixture
def small_phone(browser: Browser, server: str, world: World) -> Iterator[Page]:
    context = browser.new_context(**SMALL_PHONE)
    context.grant_permissions(["camera"], origin=server)
    page = context.new_page()
    page.set_default_timeout(15_000)
    yield page
    context.close()


def test_a_full_qr_url_typed_or_wedge_scanned_is_accepted(page: Page, server: str, world: World) -> None:
    _, codes = issue(world)
    log_in(page, server, world)
    printed = f"{LONG_PUBLIC_URL}/v/{codes[0].token}"
    assert len(printed) > 120
    field = page.get_by_label("Ou saisissez le code du chèque")
    field.press_sequentially(printed, delay=5)  # as a keyboard-wedge scanner types it
    expect(field).to_have_value(printed)  # whole, and not grouped as a short code on the way
    page.get_by_role("button", name="Vérifier le code").click()
    expect(page.locator("#confirm-title")).to_have_text("Chèque valable")
    expect(page.locator("#c-numbers")).to_have_text("n° 1")


def test_the_button_stays_above_the_fold_with_the_national_themes_and_the_amount_shows(
    small_phone: Page, server: str, world: World
) -> None:
    page = small_phone
    _, codes = national_programme_booklet(world)
    log_in(page, server, world)
    type_code(page, codes[0].short_code)
    expect(page.locator("#confirm-title")).to_have_text("Chèque valable")
    expect(page.locator("#c-amount")).to_have_text(EUROS)
    expect(page.locator("#redeem")).to_have_text(re.compile(r"^Encaisser 10,00\s€$"))
    themes = page.get_by_label("Thème de l'atelier")
    assert themes.locator("option:not([value=''])").count() == 30  # the national list
    box = page.locator("#redeem").bounding_box()
    assert box is not None and box["y"] + box["height"] <= 740, box
    assert no_horizontal_overflow(page)
    assert serious_violations(page) == [], "confirmation, 360 px"
    themes.select_option(label="Santé")
    page.locator("#redeem").click()
    expect(page.locator("#result-title")).to_have_text("Chèque encaissé")
    expect(page.locator("#result-message")).to_have_text(re.compile(r"^10,00\s€ · Santé$"))
    # Next time, the site's most used theme comes first.
    page.get_by_role("button", name="Scanner un autre chèque").click()
    page.reload()
    page.wait_for_function("() => document.body.dataset.bundle === 'ready'")
    type_code(page, codes[1].short_code)
    expect(themes.locator("optgroup").first).to_have_attribute("label", "Les plus utilisés ici")
    expect(themes.locator("optgroup").first.locator("option")).to_have_text(["Santé"])


def test_offline_the_confirmation_fits_the_phone_and_shows_the_serial_and_amount(
    small_phone: Page, server: str, world: World
) -> None:
    page = small_phone
    booklet, codes = issue(world)
    log_in(page, server, world)
    type_code(page, codes[0].short_code)
    expect(page.locator("#confirm-title")).to_have_text("Chèque valable")
    assert no_horizontal_overflow(page), "online"
    page.get_by_role("button", name="Abandonner").click()

    page.context.set_offline(True)
    expect(page.locator("#net-status")).to_be_visible()
    type_code(page, codes[0].url)
    expect(page.locator("#confirm-warning")).to_contain_text("Vérifié hors connexion")
    expect(page.locator("#c-serial")).to_have_text(booklet.serial)  # not the database id
    expect(page.locator("#c-amount")).to_have_text(EUROS)
    assert no_horizontal_overflow(page), "offline"
    box = page.locator("#redeem").bounding_box()
    assert box is not None and box["y"] + box["height"] <= 740, box
    assert serious_violations(page) == [], "offline confirmation"
    DOCS_IMG.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=DOCS_IMG / "scanner-offline.png")
    choose_theme_and_redeem(page)
    expect(page.locator("#today-list")).to_contain_text(f"{booklet.serial} n° 1")
    page.context.set_offline(False)


def test_a_failed_request_while_the_phone_says_online_switches_to_offline_and_the_result_follows_the_sync(
    page: Page, server: str, world: World
) -> None:
    _, codes = issue(world)
    log_in(page, server, world)
    page.route("**/api/**", lambda route: route.abort("internetdisconnected"))
    assert page.evaluate("navigator.onLine") is True
    type_code(page, codes[0].url)
    expect(page.locator("#net-status")).to_be_visible()
    expect(page.locator("#confirm-warning")).to_contain_text("Vérifié hors connexion")
    choose_theme_and_redeem(page)
    expect(page.locator("#result-title")).to_have_text("En attente d'envoi")
    page.wait_for_timeout(6000)  # a probe fails: still waiting, still offline
    expect(page.locator("#result-title")).to_have_text("En attente d'envoi")
    assert domain(Redemption.count()) == 0

    page.unroute("**/api/**")
    expect(page.locator("#result-title")).to_have_text("Chèque encaissé", timeout=20_000)
    expect(page.locator("#net-status")).to_be_hidden()
    expect(page.locator("#result-detail")).to_contain_text("Envoyé au retour du réseau")
    assert domain(Redemption.count()) == 1


def test_the_camera_ignores_the_voucher_just_redeemed_still_in_front_of_it(
    browser: Browser, server: str, world: World, camera_file: Path
) -> None:
    _, codes = issue(world)
    write_y4m(camera_file, codes[6].url)
    context = browser.new_context(**PHONE)
    context.grant_permissions(["camera"], origin=server)
    page = context.new_page()
    page.set_default_timeout(15_000)
    try:
        log_in(page, server, world)
        expect(page.locator("#confirm-title")).to_have_text("Chèque valable", timeout=20_000)
        choose_theme_and_redeem(page)
        expect(page.locator("#result-title")).to_have_text("Chèque encaissé")
        page.get_by_role("button", name="Scanner un autre chèque").click()
        expect(page.locator("#camera-status")).to_have_text(
            "Ce chèque vient d'être encaissé : présentez le chèque suivant.", timeout=20_000
        )
        page.wait_for_timeout(2000)
        expect(page.locator("#view-scan")).to_be_visible()  # not refused as already used
        assert page.evaluate("document.body.dataset.refusal") is None
        assert domain(Redemption.count()) == 1
        # Held in front of the camera longer than that, it is refused; and that refusal is not
        # repeated at once either.
        expect(page.locator("#result-message")).to_contain_text("déjà été utilisé", timeout=20_000)
        page.get_by_role("button", name="Scanner un autre chèque").click()
        expect(page.locator("#camera-status")).to_have_text(
            "Ce chèque vient d'être refusé : présentez le chèque suivant.", timeout=20_000
        )
    finally:
        context.close()
        write_y4m(camera_file, None)


def test_one_sign_in_on_the_staff_pages_opens_the_scanner_and_back(
    page: Page, server: str, world: World
) -> None:
    page.goto(server + "/staff/login")
    page.get_by_label("Adresse e-mail").fill(world.agent.email)
    page.get_by_label("Mot de passe").fill(PASSWORD)
    page.get_by_role("button", name="Se connecter").click()
    # A site agent's home is the scanner, already signed in.
    expect(page).to_have_url(server + "/scan")
    expect(page.locator("#site-name")).to_have_text("Médiathèque Nord")
    expect(page.locator("#view-scan")).to_be_visible()
    page.goto(server + "/staff/statements")
    expect(page.get_by_role("heading", level=1)).not_to_have_text("Connexion à l'espace des professionnels")
    expect(page).to_have_url(server + "/staff/statements")
    # One sign-out too: the scanner's ends the staff session.
    page.goto(server + "/scan")
    page.get_by_role("button", name="Se déconnecter").click()
    expect(page).to_have_url(re.compile(r"/staff/login\?suite=/scan$"))  # back to the one sign-in
    page.goto(server + "/staff/statements")
    expect(page).to_have_url(re.compile(r"/staff/login"))


def test_another_agent_signing_in_on_the_same_phone_gets_the_scanner_as_themself(
    page: Page, server: str, world: World
) -> None:
    log_in(page, server, world)
    page.goto(server + "/staff/login")
    page.get_by_label("Adresse e-mail").fill(world.agent_south.email)
    page.get_by_label("Mot de passe").fill(PASSWORD)
    page.get_by_role("button", name="Se connecter").click()
    expect(page).to_have_url(server + "/scan")
    expect(page.locator("#site-name")).to_have_text("Espace Sud")  # not the token kept for the first


def test_the_confirmation_on_a_desktop_screen(browser: Browser, server: str, world: World) -> None:
    _, codes = issue(world)
    context = browser.new_context(**DESKTOP)
    page = context.new_page()
    page.set_default_timeout(15_000)
    try:
        log_in(page, server, world)
        type_code(page, codes[0].short_code)
        expect(page.locator("#c-amount")).to_have_text(EUROS)
        assert no_horizontal_overflow(page)
        assert serious_violations(page) == [], "confirmation, 1280 px"
    finally:
        context.close()


@pytest.mark.parametrize("profile", ["phone", "desktop"])
def test_the_voucher_url_shows_a_public_page_to_anyone_else(
    browser: Browser, server: str, world: World, profile: str
) -> None:
    booklet, codes = issue(world)
    context = browser.new_context(**(SMALL_PHONE if profile == "phone" else DESKTOP))
    page = context.new_page()
    page.set_default_timeout(15_000)
    try:
        page.goto(server + "/v/" + codes[0].token)
        expect(page.get_by_role("heading", level=1)).to_have_text(
            re.compile(r"^Chèque Pass numérique de 10,00\s€$")
        )
        expect(page.locator("#etat-cheque")).to_contain_text("Ce chèque est utilisable jusqu'au")
        expect(page.get_by_text("Médiathèque Nord")).to_be_visible()
        assert booklet.serial not in page.content()
        assert no_horizontal_overflow(page)
        assert serious_violations(page) == [], profile
        DOCS_IMG.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=DOCS_IMG / f"voucher-page-{profile}.png", full_page=True)
        page.goto(server + "/v/" + codes[0].token[:-3] + "AAA")
        expect(page.get_by_role("heading", level=1)).to_have_text("Chèque inconnu")
    finally:
        context.close()
