"""The URL printed in every voucher QR, ``/v/{token}``: a public page for anyone but a signed-in
site agent, who gets the scanner with the code filled (web/scanner.py, public_voucher.py)."""

from __future__ import annotations

import html
import re
from typing import Any

from conftest import World, issue, run
from pass_numerique.domain.issuance import lifecycle
from pass_numerique.domain.redemption import redeem
from test_staff_pages import login


def token_path(code: lifecycle.VoucherCode) -> str:
    return "/v/" + code.token


def assert_never_stored(response: Any) -> None:
    assert response.headers["cache-control"] == "no-store"
    assert response.headers["referrer-policy"] == "no-referrer"


def test_anyone_sees_what_the_voucher_is_worth_until_when_and_where_and_nothing_else(
    client, world: World
) -> None:
    booklet, codes = issue(world)
    response = client.get(token_path(codes[0]))
    assert response.status_code == 200
    assert_never_stored(response)
    page = html.unescape(response.text)
    assert "Chèque Pass numérique de 10,00\u00a0€" in page
    assert f"Ce chèque est utilisable jusqu'au {booklet.valid_until:%d/%m/%Y} inclus." in page
    assert "Médiathèque Nord" in page  # an accredited site of the booklet's territory
    assert 'href="/lieux/TAS-N"' in page
    # Nothing else: not the booklet, not another voucher, not another territory's sites, no scanner.
    assert booklet.serial not in page
    assert codes[0].short_code not in page and codes[1].token not in page
    assert "Espace Sud" not in page and "Lieu en attente" not in page
    assert 'id="view-scan"' not in page


def test_a_used_or_cancelled_voucher_says_it_cannot_be_used_without_saying_when_or_where(
    client, world: World
) -> None:
    booklet, codes = issue(world)
    run(
        redeem.redeem(
            world.agent, redeem.RedeemRequest(codes=[codes[0].url], theme="email", request_id="page-00001")
        )
    )
    used = client.get(token_path(codes[0]))
    assert used.status_code == 200
    assert "Ce chèque a déjà été utilisé." in used.text
    assert not re.search(r"\d\dh\d\d", used.text)  # neither when ...
    assert "(Médiathèque Nord)" not in used.text  # ... nor where (the scanner's refusal says both)

    run(lifecycle.cancel_booklet(world.issuer, booklet.serial, lifecycle.CancelRequest(reason="perdu")))
    cancelled = client.get(token_path(codes[1]))
    assert cancelled.status_code == 200
    assert "Ce chèque n'est pas utilisable." in html.unescape(cancelled.text)
    assert "annulé" not in cancelled.text


def test_a_forged_or_unknown_code_gets_a_neutral_404_page(client, world: World) -> None:
    _, codes = issue(world)
    token = codes[0].token
    forged = token[:-2] + ("AA" if token[-2:] != "AA" else "BB")
    for path in (f"/v/{forged}", "/v/not-a-token", f"/v/{codes[0].short_code}"):
        response = client.get(path)
        assert response.status_code == 404, path
        assert_never_stored(response)
        assert "Chèque inconnu" in response.text
        assert "Médiathèque Nord" not in response.text


def test_a_signed_in_site_agent_opening_the_url_gets_the_scanner(client, world: World) -> None:
    _, codes = issue(world)
    login(client, world.agent)
    response = client.get(token_path(codes[0]))
    assert response.status_code == 200
    assert_never_stored(response)
    assert 'id="view-scan"' in response.text  # the shell reads the code from its URL
    assert "Chèque Pass numérique de" not in response.text


def test_other_staff_see_the_public_page(client, world: World) -> None:
    _, codes = issue(world)
    login(client, world.issuer)
    response = client.get(token_path(codes[0]))
    assert response.status_code == 200
    assert 'id="view-scan"' not in response.text
    assert "Chèque Pass numérique de 10,00\u00a0€" in response.text
