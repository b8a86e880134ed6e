"""The phone's offline rules (static/scan/offline-rules.js) give the server's answers.

The same cases go through the server's Python rules and through the JavaScript module, the file the
package ships, in Debian's Chromium: reading a code (``codes.parse_scanned`` against
``PNOfflineRules.read``: short codes with typos, tokens signed by the real key, tampered or signed
by another key) and a voucher on a given day (``lookup.lookup`` against ``PNOfflineRules.check``
with the offline bundle: before, within and after validity, an extension, cancelled booklets).
Cases come from real booklets built through the domain API; Hypothesis adds texts around them.
"""

from __future__ import annotations

import base64
from collections.abc import Iterator
from datetime import date, datetime, time, timedelta
from importlib import resources
from typing import Any

import msgspec
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from browser_support import (  # noqa: F401 - the fixtures are used by name
    ARGS,
    CHROMIUM,
    HAS_CHROMIUM,
    domain,
    empty_database_fixture,
    world_fixture,
)
from conftest import World
from pass_numerique.domain.actors import SYSTEM
from pass_numerique.domain.clock import local_zone, utcnow
from pass_numerique.domain.errors import DomainError
from pass_numerique.domain.issuance import beneficiaries, lifecycle, stock
from pass_numerique.domain.redemption import lookup, offline_sync
from pass_numerique.domain.scheme import programmes
from pass_numerique.domain.vouchers import codes, short_codes
from pass_numerique.security.signing_keys import keyring

pytestmark = pytest.mark.browser

if not HAS_CHROMIUM:
    pytest.skip("Debian's chromium is not installed (make browser)", allow_module_level=True)

from playwright.sync_api import Page, Route, sync_playwright  # noqa: E402

# A secure origin (WebCrypto needs one) that Playwright answers itself: no application server,
# whose background report folds would run into other test modules' database.
ORIGIN = "https://scanner.test"

# The module's answers in the shape of python_read's below.
_JS_READ = """async ([texts, keys]) => Promise.all(texts.map(async (text) => {
    const r = await PNOfflineRules.read(text, keys);
    if (r.claims) return {code: r.code, claims: r.claims};
    if (r.shortCode) return {code: r.code, short_code: r.shortCode};
    return {code: r.code};
}))"""
_JS_CHECK = """async ([cases, bundle]) => Promise.all(cases.map(async ([text, today]) => {
    const r = await PNOfflineRules.check(text, bundle, today);
    return {code: r.code, date: r.date || null, valid_until: r.validUntil || null,
            number: r.claims ? r.claims.number : null};
}))"""


@pytest.fixture(scope="module")
def rules() -> Iterator[Page]:
    """A page in Chromium that loads static/scan/offline-rules.js as the package ships it."""
    script = resources.files("pass_numerique.static").joinpath("scan/offline-rules.js").read_text("utf-8")

    def answer(route: Route) -> None:
        if route.request.url.endswith("/offline-rules.js"):
            route.fulfill(body=script, content_type="text/javascript")
        else:
            route.fulfill(
                body='<!doctype html><script src="/offline-rules.js"></script>', content_type="text/html"
            )

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        page = browser.new_page()
        page.route(f"{ORIGIN}/**", answer)
        page.goto(ORIGIN + "/")
        page.wait_for_function("() => !!window.PNOfflineRules")
        yield page
        browser.close()


def published_keys() -> list[dict[str, Any]]:
    """The keys the offline bundle publishes to the phones."""
    return msgspec.to_builtins(keyring().published())


def python_read(text: str) -> dict[str, Any]:
    """``codes.parse_scanned``'s answer: the refusal code, the claims or the normalised short code."""
    try:
        scanned = codes.parse_scanned(text)
    except DomainError as refusal:
        return {"code": refusal.code}
    if isinstance(scanned, codes.ScannedToken):
        return {"code": "ok", "claims": msgspec.to_builtins(scanned.claims)}
    return {"code": "ok", "short_code": scanned.code}


def js_read(page: Page, texts: list[str]) -> list[dict[str, Any]]:
    return page.evaluate(_JS_READ, [texts, published_keys()])


def token_of(url: str) -> str:
    return url.rsplit("/v/", 1)[1]


def signed_by_another_key(token: str, kid: int | None = None) -> str:
    """The token's claims (its key id, or ``kid``) signed by a key that is not ours."""
    raw = bytearray(base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)))
    if kid is not None:
        raw[0] = kid
    message = bytes(raw[:10])
    signed = message + Ed25519PrivateKey.generate().sign(message)
    return base64.urlsafe_b64encode(signed).rstrip(b"=").decode()


def with_char(text: str, index: int, char: str) -> str:
    return text[:index] + char + text[index + 1 :]


def issue_booklet(world: World, programme_id: int | None = None) -> tuple[str, list[lifecycle.VoucherCode]]:
    booklet = domain(
        lifecycle.issue_booklet(
            world.issuer,
            lifecycle.IssueRequest(
                programme_id=programme_id or world.programme.id,
                beneficiary=beneficiaries.BeneficiaryCreate(territory_id=world.north.id),
            ),
        )
    )
    return booklet.serial, domain(lifecycle.booklet_codes(world.issuer, booklet.serial))


def test_reading_codes_gives_the_servers_answer(rules: Page, world: World) -> None:
    _, vouchers = issue_booklet(world)
    url, short = vouchers[0].url, vouchers[0].short_code
    token, plain = token_of(url), short.replace("-", "")
    expected: dict[str, str] = {
        url: "ok",
        token: "ok",
        f"  {url}?utm=1#top \n": "ok",
        url + "/": "ok",
        url.replace("/v/", "/v//"): "ok",  # slashes are trimmed on both sides of the token
        short: "ok",
        plain.lower(): "ok",
        " ".join(plain): "ok",
        f"\t{short}\u2003": "ok",
        plain.replace("0", "O").replace("1", "l"): "ok",
        plain.replace("1", "I").lower(): "ok",
        # What Python's str.strip() removes, and only that (JavaScript's trim() differs).
        "\x1c" + plain + "\x85": "ok",
        "\ufeff" + plain: "invalid_code_format",
        # The separators inside a code are space, dash, underscore, dot, no-break space and tab.
        plain[:4] + "\u00a0" + plain[4:8] + "_" + plain[8:]: "ok",
        plain[:4] + "\n" + plain[4:]: "invalid_code_format",
        plain[:4] + "\u2003" + plain[4:]: "invalid_code_format",
        plain[:-1]: "invalid_code_format",
        plain + "0": "invalid_code_format",
        with_char(plain, 3, "U"): "invalid_code_format",
        "x" * 401: "invalid_code_format",
        # 400 characters at most, whatever they are, counted as Python counts them (code points).
        f"{url}?{'a' * (399 - len(url))}": "ok",
        f"{url}?{'a' * (400 - len(url))}": "invalid_code_format",
        f"{url}?{'😀' * (399 - len(url))}": "ok",
        "": "invalid_code_format",
        url[:-1]: "unknown_code",  # a truncated URL
        url.replace("/v/", "/v/x"): "unknown_code",
        "https://example.org/v/abc": "unknown_code",
        signed_by_another_key(token): "unknown_code",
        signed_by_another_key(token, kid=200): "unknown_code",  # a key id nobody published
        token[:40] + token[40:].swapcase(): "unknown_code",
    }
    # Damm's check character catches every single substitution and adjacent transposition.
    for index in range(len(plain)):
        other = short_codes.ALPHABET[(short_codes.ALPHABET.index(plain[index]) + 7) % 32]
        expected[with_char(plain, index, other)] = "invalid_checksum"
        if index + 1 < len(plain) and plain[index] != plain[index + 1]:
            swapped = plain[:index] + plain[index + 1] + plain[index] + plain[index + 2 :]
            expected[swapped] = "invalid_checksum"
    # A changed character of the token breaks its signature...
    for index in range(0, len(token) - 1, 7):
        replacement = "A" if token[index] != "A" else "B"
        expected[with_char(token, index, replacement)] = "unknown_code"
    # ... unless it only changes the last character's two unused bits: both decode the same bytes.
    base64url = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
    expected[with_char(token, len(token) - 1, base64url[base64url.index(token[-1]) ^ 1])] = "ok"
    texts = list(expected)
    server = [python_read(text) for text in texts]
    assert [answer["code"] for answer in server] == list(expected.values())
    assert js_read(rules, texts) == server
    assert server[texts.index(url)]["claims"]["number"] == 1
    assert server[texts.index(short)] == {"code": "ok", "short_code": plain}


# Characters at the edges of the rules: whitespace Python strips or not, separators or not,
# Crockford's confusable letters, URL punctuation, letters that upper-case to two.
_EDGES = " \t\n\r\x0b\x0c\x1c\x1f\x85\u00a0\u1680\u2003\u200b\u2028\u3000\ufeff-_./?#:vOILUoilußﬁı"
_CHARS = short_codes.ALPHABET + "AZaz09" + _EDGES


@st.composite
def around(draw: st.DrawFn, urls: list[str], shorts: list[str]) -> str:
    """A text near a real code: typed another way, with a typo, a tampered token, edge characters
    inside or around it; or edge characters alone."""
    kind = draw(st.sampled_from(["short", "url", "token", "noise"]))
    if kind == "noise":
        return draw(st.text(alphabet=_CHARS, max_size=16))
    text = draw(st.sampled_from({"short": shorts, "url": urls, "token": [token_of(u) for u in urls]}[kind]))
    if kind == "short":
        text = draw(st.sampled_from([text, text.replace("-", ""), text.lower(), text.replace("0", "O")]))
    for _ in range(draw(st.integers(0, 2))):
        index = draw(st.integers(0, len(text)))
        char = draw(st.sampled_from(_CHARS))
        text = text[:index] + char + text[index + draw(st.integers(0, 1)) :]  # insert or replace
    edges = st.text(alphabet=_EDGES, max_size=3)
    return draw(edges) + text + draw(edges)


def test_any_text_near_a_code_is_read_as_the_server_reads_it(rules: Page, world: World) -> None:
    _, vouchers = issue_booklet(world)
    urls, shorts = [v.url for v in vouchers], [v.short_code for v in vouchers]

    @settings(max_examples=150, deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow])
    @given(st.lists(around(urls, shorts), min_size=1, max_size=10))
    def same_answers(texts: list[str]) -> None:
        assert js_read(rules, texts) == [python_read(text) for text in texts]

    same_answers()


def _noon(day: date) -> datetime:
    return datetime.combine(day, time(12), tzinfo=local_zone())


def test_a_voucher_on_each_day_gets_the_servers_answer(rules: Page, world: World) -> None:
    today = utcnow().astimezone(local_zone()).date()
    _, current = issue_booklet(world)
    cancelled_serial, cancelled = issue_booklet(world)
    replaced = domain(
        lifecycle.cancel_booklet(
            world.issuer, cancelled_serial, lifecycle.CancelRequest(reason="volé", replace=True)
        )
    )
    assert replaced.replacement is not None
    replacement = domain(lifecycle.booklet_codes(world.issuer, replaced.replacement.serial))
    printed = domain(
        stock.create_print_run(
            world.coordinator,
            stock.PrintRunCreate(
                territory_id=world.north.id,
                programme_id=world.programme.id,
                quantity=1,
                valid_from=today + timedelta(days=30),
            ),
        )
    )
    person = domain(
        beneficiaries.create_beneficiary(
            world.issuer, beneficiaries.BeneficiaryCreate(territory_id=world.north.id)
        )
    )
    domain(
        lifecycle.assign_booklet(
            world.issuer, printed.first_serial, lifecycle.AssignRequest(beneficiary_id=person.id)
        )
    )
    later = domain(lifecycle.booklet_codes(world.issuer, printed.first_serial))
    # A booklet of another programme whose validity an admin extended beyond its printed codes.
    other = domain(
        programmes.create_programme(
            SYSTEM, programmes.ProgrammeCreate(name="Pass prolongé", funders=["Département"])
        )
    )
    _, extended = issue_booklet(world, other.id)
    printed_until = python_read(extended[0].url)["claims"]["valid_until"]
    new_until = date.fromisoformat(printed_until) + timedelta(days=60)
    domain(lifecycle.extend_validity(world.admin, other.id, lifecycle.ExtendValidity(valid_until=new_until)))

    bundle = msgspec.to_builtins(domain(offline_sync.offline_bundle(world.agent)))
    cases: list[tuple[str, date]] = []
    for vouchers in (current, cancelled, replacement, later, extended):
        claims = python_read(vouchers[-1].url)["claims"]
        valid_from, valid_until = (
            date.fromisoformat(claims["valid_from"]),
            date.fromisoformat(claims["valid_until"]),
        )
        days = {valid_from - timedelta(days=1), valid_from, valid_until, valid_until + timedelta(days=1)}
        if vouchers is extended:
            days |= {new_until, new_until + timedelta(days=1)}
        cases += [(vouchers[-1].url, day) for day in sorted(days)]
    tampered = with_char(current[0].url, len(current[0].url) - 10, "A" if current[0].url[-10] != "A" else "B")
    cases.append((tampered, today))

    js = rules.evaluate(_JS_CHECK, [[[text, day.isoformat()] for text, day in cases], bundle])
    seen = set()
    for (text, day), mine in zip(cases, js, strict=True):
        try:
            theirs = domain(lookup.lookup(world.admin, text, now=_noon(day)))
        except DomainError as refusal:
            assert mine["code"] == refusal.code, (text, day)
            continue
        assert mine["code"] == theirs.code, (text, day, theirs.message)
        seen.add(theirs.code)
        if theirs.code == "ok":
            assert (mine["valid_until"], mine["number"]) == (theirs.valid_until.isoformat(), theirs.number)
        elif theirs.code in ("not_yet_valid", "expired"):
            # The server words the refusal with the date the phone found.
            assert date.fromisoformat(mine["date"]).strftime("%d/%m/%Y") in theirs.message
    assert seen == {"ok", "cancelled", "not_yet_valid", "expired"}
