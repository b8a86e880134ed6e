"""One sign-in for a site agent: the staff login opens the scanner, which trades the staff session
for its bearer token (``POST /scan/session``, web/scanner.py); the scanner's shell over HTTP."""

from __future__ import annotations

import re

from conftest import PASSWORD, World, issue, run
from pass_numerique.domain.tables import ApiToken
from test_staff_pages import csrf, login


def sign_in(client, email: str, suite: str | None = None):
    data = {"email": email, "password": PASSWORD, "_csrf_token": csrf(client)}
    if suite is not None:
        data["suite"] = suite
    return client.post("/staff/login", data=data, follow_redirects=False)


def test_a_site_agent_signing_in_lands_on_the_scanner_other_staff_on_their_home(client, world: World) -> None:
    agent = sign_in(client, world.agent.email)
    assert agent.status_code == 303 and agent.headers["location"] == "/scan"
    client.cookies.clear()
    issuer = sign_in(client, world.issuer.email)
    assert issuer.headers["location"] == "/staff/"


def test_the_sign_in_returns_to_the_scanner_or_the_voucher_it_came_from(client, world: World) -> None:
    _, codes = issue(world)
    form = client.get("/staff/login", params={"suite": "/scan"})
    assert 'name="suite" value="/scan"' in form.text
    assert sign_in(client, world.agent.email, "/scan").headers["location"] == "/scan"
    assert client.get("/staff/statements").status_code == 200  # the same sign-in opens the staff pages
    client.cookies.clear()
    back = sign_in(client, world.agent.email, f"/v/{codes[0].token}")
    assert back.headers["location"] == f"/v/{codes[0].token}"
    client.cookies.clear()
    # Still never another site.
    assert sign_in(client, world.agent.email, "//evil.example/scan").headers["location"] == "/scan"


def test_the_staff_session_gives_the_scanner_its_bearer_token(client, world: World) -> None:
    login(client, world.agent)
    shell = client.get("/scan")
    token = re.search(r'<meta name="csrf-token" content="([^"]+)">', shell.text).group(1)
    answer = client.post("/scan/session", headers={"X-CSRFToken": token})
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert body["user"]["role"] == "site_agent" and body["user"]["user_id"] == world.agent.user_id
    client.cookies.clear()  # the API reads the bearer token only
    context = client.get(
        "/api/v1/scanner/context", headers={"Authorization": f"Bearer {body['token']['token']}"}
    )
    assert context.status_code == 200 and context.json()["site"]["name"] == "Médiathèque Nord"
    assert run(ApiToken.count().where(ApiToken.label == "scanner")) == 1


def test_the_token_exchange_needs_a_site_agent_session_and_the_csrf_token(client, world: World) -> None:
    shell = client.get("/scan")
    token = re.search(r'<meta name="csrf-token" content="([^"]+)">', shell.text).group(1)
    anonymous = client.post("/scan/session", headers={"X-CSRFToken": token})
    assert anonymous.status_code == 401 and anonymous.json()["code"] == "not_authenticated"

    login(client, world.agent)
    forged = client.post("/scan/session")  # no CSRF token: a request from another site
    assert forged.status_code == 403

    client.cookies.clear()
    login(client, world.issuer)
    token = re.search(r'<meta name="csrf-token" content="([^"]+)">', client.get("/scan").text).group(1)
    issuer = client.post("/scan/session", headers={"X-CSRFToken": token})
    assert issuer.status_code == 403
    assert run(ApiToken.count()) == 0


def test_the_code_field_takes_any_url_the_service_prints(client, world: World) -> None:
    _, codes = issue(world)
    shell = client.get("/scan").text
    limit = int(re.search(r'id="code"[^>]*maxlength="(\d+)"', shell, re.S).group(1))
    # A real département's address is longer than the tests' http://testserver.
    printed = "https://pass-numerique.departement-exemple.fr/v/" + codes[0].token
    assert len(printed) > 120 and limit >= len(printed)
    assert 'href="/staff/login?suite=/scan"' in shell  # the scanner's sign-in is the staff one
    login(client, world.agent)
    token = re.search(r'<meta name="csrf-token" content="([^"]+)">', client.get("/scan").text).group(1)
    bearer = client.post("/scan/session", headers={"X-CSRFToken": token}).json()["token"]["token"]
    found = client.post(
        "/api/v1/vouchers/lookup", json={"code": printed}, headers={"Authorization": f"Bearer {bearer}"}
    )
    assert found.status_code == 200 and found.json()["number"] == 1


def test_the_shell_names_the_staff_session_s_agent_so_a_shared_phone_follows_the_sign_in(
    client, world: World
) -> None:
    assert 'data-staff-user=""' in client.get("/scan").text
    login(client, world.agent)
    assert f'data-staff-user="{world.agent.user_id}"' in client.get("/scan").text
    client.cookies.clear()
    login(client, world.issuer)  # not a site agent: not the scanner's user
    assert 'data-staff-user=""' in client.get("/scan").text


def test_the_address_printed_on_the_coupons_leads_a_site_agent_to_the_scanner(client, world: World) -> None:
    anonymous = client.get("/", follow_redirects=True)
    assert anonymous.url.path == "/staff/login"  # then, signed in, to /scan (above)
    login(client, world.agent)
    assert client.get("/", follow_redirects=False).headers["location"] == "/scan"
    client.cookies.clear()
    login(client, world.coordinator)
    assert client.get("/", follow_redirects=False).headers["location"] == "/staff/"
