"""The one error map (http/errors.py): a refusal gets the same status from the JSON API and the pages."""

from __future__ import annotations

import logging
from typing import Any

import pytest
from litestar import get
from litestar.params import FromPath
from litestar.testing import TestClient

from conftest import PASSWORD, World, bearer, issue, run
from pass_numerique.asgi import create_app
from pass_numerique.domain.errors import DomainError
from pass_numerique.domain.tables import IdempotencyRecord
from pass_numerique.http import guards
from pass_numerique.http.errors import DEFAULT_STATUS, STATUS_BY_CODE, status_of
from pass_numerique.web.staff.layout import StaffController
from test_staff_pages import csrf, login, post


def _same_refusal(api: Any, page: Any, code: str, message: str) -> None:
    """The API's JSON and the page's HTML carry one refusal, with the status the map gives its code."""
    assert api.json()["code"] == code, api.text
    assert api.status_code == page.status_code == STATUS_BY_CODE[code], (api.status_code, page.status_code)
    assert api.json()["message"] == message
    assert page.headers["content-type"].startswith("text/html") and message in page.text


def test_a_domain_error_gets_the_same_status_from_an_api_route_and_a_page(client, world: World) -> None:
    headers = bearer(client, world.admin)
    login(client, world.admin)

    # Raised by the domain: an unknown booklet (404), shown by the pages' error handler.
    api = client.get("/api/v1/booklets/NOPE-0000-0000", headers=headers)
    page = client.get("/staff/booklets/NOPE-0000-0000")
    _same_refusal(api, page, "not_found", "Carnet introuvable.")

    # Raised by the shared report filters (422), before any domain function runs.
    api = client.get("/api/v1/reports?start=hier", headers=headers)
    page = client.get("/staff/reports?start=hier")
    _same_refusal(api, page, "invalid_input", "Date attendue au format AAAA-MM-JJ.")

    # A form shown again with the refusal on it (409): the status comes from the same map.
    mine = f"/staff/users/{world.admin.user_id}"
    api = client.post(f"/api/v1/users/{world.admin.user_id}/active", json={"active": False}, headers=headers)
    page = post(client, f"{mine}/active", {"active": "non", "confirm": "oui"}, form_page=mine)
    _same_refusal(api, page, "invalid_state", "Vous ne pouvez pas désactiver votre propre compte.")


def test_every_code_has_a_status_and_unknown_codes_are_plain_refusals() -> None:
    assert status_of(DomainError("already_redeemed")) == 409
    assert status_of(DomainError("too_many_attempts")) == 429
    assert status_of(DomainError("forbidden")) == 403
    assert status_of(DomainError("a_code_nobody_mapped")) == DEFAULT_STATUS == 400
    assert not hasattr(DomainError("not_found"), "status_code")  # the domain knows no HTTP


def test_the_pages_answer_every_error_in_html_and_the_api_in_json(client, world: World) -> None:
    login(client, world.coordinator)
    # A query parameter of the wrong type: invalid_input's 422, as a French page on the pages.
    page = client.get("/staff/structures?page_number=abc")
    assert page.status_code == 422 and page.headers["content-type"].startswith("text/html")
    assert "Une valeur de l&#39;adresse ou du formulaire est invalide" in page.text
    api = client.get("/api/v1/audit/?limit=abc", headers=bearer(client, world.coordinator))
    assert api.status_code == 422 and api.json()["code"] == "invalid_input"
    assert api.json()["details"]["field"] == "limit"
    # A signed-out page redirects to the login and back; the API answers 401 in JSON.
    client.cookies.clear()
    wall = client.get("/staff/structures", follow_redirects=False)
    assert wall.status_code == 303 and wall.headers["location"] == "/staff/login?suite=/staff/structures"
    assert client.get("/api/v1/structures").json()["code"] == "not_authenticated"


def test_a_refused_redemption_is_stored_and_replayed_with_the_status_the_api_answered(
    client, world: World
) -> None:
    _, codes = issue(world)
    agent = bearer(client, world.agent)
    body = {"codes": [codes[0].url], "theme": "email", "request_id": "refused-00001"}
    assert client.post(
        "/api/v1/redemptions", headers=agent, json={**body, "request_id": "first-00001"}
    ).is_success
    refused = client.post("/api/v1/redemptions", headers=agent, json=body)
    replayed = client.post("/api/v1/redemptions", headers=agent, json=body)
    assert refused.status_code == replayed.status_code == 409
    assert refused.json() == replayed.json() and refused.json()["code"] == "already_redeemed"
    stored = run(IdempotencyRecord.select().where(IdempotencyRecord.key.like("%:refused-00001")).first())
    assert stored["status_code"] != 200  # a refusal: its status comes from the one map at replay


class _Broken(StaffController):
    """A page with a bug, added to the real application for this test only (and ``_broken_api``)."""

    @get("/broken", guards=[guards.public])
    async def broken(self) -> str:
        raise RuntimeError("a bug")


@get("/api/v1/broken", guards=[guards.public])
async def _broken_api() -> str:
    raise RuntimeError("a bug")


@get("/api/v1/broken/{secret:str}", guards=[guards.public])
async def _broken_with_a_code_in_its_path(secret: FromPath[str]) -> str:
    raise RuntimeError("a bug")


def test_a_bug_answers_500_as_a_french_page_on_the_pages_and_json_on_the_api(caplog) -> None:
    app = create_app()
    app.register(_Broken)
    app.register(_broken_api)
    # Litestar's logging set-up replaces the root's handlers, caplog's included: listen on ours.
    logger = logging.getLogger("pass_numerique")
    logger.addHandler(caplog.handler)
    try:
        with TestClient(app=app) as client:
            page = client.get("/staff/broken")
            api = client.get("/api/v1/broken")
    finally:
        logger.removeHandler(caplog.handler)
    assert page.status_code == 500 and page.headers["content-type"].startswith("text/html")
    assert "Erreur interne : réessayez ou contactez le support." in page.text and "a bug" not in page.text
    assert api.status_code == 500 and api.json()["code"] == "internal_error"
    logged = [r for r in caplog.records if r.getMessage().startswith("internal error on GET")]
    assert [r.getMessage() for r in logged] == [
        "internal error on GET /staff/broken",
        "internal error on GET /api/v1/broken",
    ]


def test_an_internal_error_logs_the_route_never_the_values_in_its_path(caplog) -> None:
    app = create_app()
    app.register(_broken_with_a_code_in_its_path)
    logger = logging.getLogger("pass_numerique")
    logger.addHandler(caplog.handler)
    try:
        with TestClient(app=app) as client:
            assert client.get("/api/v1/broken/K3Y-T0K3N").status_code == 500
    finally:
        logger.removeHandler(caplog.handler)
    logged = [r.getMessage() for r in caplog.records if r.getMessage().startswith("internal error")]
    assert logged == ["internal error on GET /api/v1/broken/{secret}"]
    assert not any("K3Y-T0K3N" in r.getMessage() for r in caplog.records)


def test_an_unknown_page_is_a_french_404_page_and_an_unknown_api_path_json(client) -> None:
    for path in ("/nulle-part", "/staffs/x", "/lieux/XX/plus-loin"):
        page = client.get(path)
        assert page.status_code == 404 and page.headers["content-type"].startswith("text/html"), path
        assert "Page introuvable" in page.text and '<html lang="fr"' in page.text
        assert "Revenir à l'accueil" not in page.text  # no staff home for a public visitor
    api = client.get("/api/v1/nulle-part")
    assert api.status_code == 404 and api.json()["code"] == "not_found"


def test_an_unknown_staff_page_keeps_the_menu_of_the_signed_in_person(client, world: World) -> None:
    login(client, world.coordinator)
    page = client.get("/staff/nulle-part/encore")
    assert page.status_code == 404 and "Page introuvable" in page.text
    assert 'id="navigation"' in page.text and "coordinator · Coordination" in page.text
    assert 'href="/staff/">Revenir à l\'accueil</a>' in page.text
    # Signed out, the address is not told apart from a real page: sign in first.
    client.cookies.clear()
    wall = client.get("/staff/nulle-part", follow_redirects=False)
    assert wall.status_code == 303 and wall.headers["location"] == "/staff/login?suite=/staff/nulle-part"


def test_a_method_a_page_does_not_take_is_a_french_405_page(client) -> None:
    page = client.delete("/staff/login")
    assert page.status_code == 405 and page.headers["content-type"].startswith("text/html")
    assert "Action non prévue" in page.text
    api = client.delete("/api/v1/structures")
    assert api.status_code == 405 and api.headers["content-type"].startswith("application/json")


def test_an_expired_session_says_so_on_the_login_page_and_returns_to_the_page(client, world: World) -> None:
    client.cookies.set("pn_session", "a-session-that-ended")
    wall = client.get("/staff/structures?page_number=2", follow_redirects=False)
    assert wall.status_code == 303
    assert (
        wall.headers["location"] == "/staff/login?suite=/staff/structures%3Fpage_number%3D2&session=expiree"
    )
    form = client.get(wall.headers["location"])
    assert "Votre session a expiré, reconnectez-vous" in form.text
    assert 'name="suite" value="/staff/structures?page_number=2"' in form.text
    # Without a cookie, no such message: the person had simply not signed in.
    client.cookies.clear()
    wall = client.get("/staff/structures", follow_redirects=False)
    assert "session=" not in wall.headers["location"]
    assert "Votre session a expiré" not in client.get(wall.headers["location"]).text


def test_a_form_posted_after_the_session_ended_returns_to_its_form_after_signing_in(
    client, world: World
) -> None:
    token = csrf(client)
    client.cookies.set("pn_session", "a-session-that-ended")
    lost = client.post(
        "/staff/desk/create",
        data={"territory_id": str(world.north.id), "_csrf_token": token},
        headers={"referer": "http://testserver.local/staff/desk"},
        follow_redirects=False,
    )
    assert lost.status_code == 303
    assert lost.headers["location"] == "/staff/login?suite=/staff/desk&session=expiree"
    # A referer from another site is not followed: home instead.
    elsewhere = client.post(
        "/staff/desk/create",
        data={"_csrf_token": token},
        headers={"referer": "https://evil.example/staff/desk"},
        follow_redirects=False,
    )
    assert elsewhere.headers["location"] == "/staff/login?suite=/staff/&session=expiree"
    client.cookies.delete("pn_session")
    signed_in = client.post(
        "/staff/login",
        data={
            "email": world.issuer.email,
            "password": PASSWORD,
            "suite": "/staff/desk",
            "_csrf_token": token,
        },
        follow_redirects=False,
    )
    assert signed_in.headers["location"] == "/staff/desk"


@pytest.mark.parametrize(
    "target",
    [
        "//evil.example/staff/",
        "https://evil.example/staff/",
        "/\\evil.example",
        "\\\\evil.example",
        "http:/staff/",
        "/staff/\n//evil.example",
        "javascript:alert(1)",
        "/api/v1/structures",
        "staff/desk",
    ],
)
def test_the_return_after_signing_in_is_a_local_path_only(client, world: World, target: str) -> None:
    form = client.get("/staff/login", params={"suite": target})
    assert 'name="suite" value="/staff/"' in form.text
    response = client.post(
        "/staff/login",
        data={
            "email": world.issuer.email,
            "password": PASSWORD,
            "suite": target,
            "_csrf_token": csrf(client),
        },
        follow_redirects=False,
    )
    assert response.headers["location"] == "/staff/"


def test_a_json_body_nested_too_deep_to_decode_is_an_unreadable_body_not_a_500(client, world: World) -> None:
    """``[[[[…]]]]`` 100,000 deep made msgspec raise RecursionError through Litestar: 500 before."""
    nested = b"[" * 100_000 + b"]" * 100_000
    json_body = {"content-type": "application/json"}
    response = client.post("/api/v1/auth/login", content=nested, headers=json_body)
    assert response.status_code == STATUS_BY_CODE["invalid_input"], response.text
    assert response.json()["code"] == "invalid_input"
    headers = {**bearer(client, world.admin), **json_body}
    response = client.post("/api/v1/sites", content=b'{"name": ' + nested + b"}", headers=headers)
    assert response.status_code == STATUS_BY_CODE["invalid_input"], response.text
    assert response.json()["code"] == "invalid_input"


def test_a_method_the_api_does_not_take_and_a_body_too_large_answer_coded_french_refusals(client) -> None:
    """Litestar's own 405 and 413 came out as ``http_error`` with its English words."""
    response = client.put("/api/v1/sites")
    assert response.status_code == 405, response.text
    assert response.json()["code"] == "method_not_allowed"
    assert "méthode" in response.json()["message"]
    huge = b'{"email": "' + b"x" * 11_000_000 + b'"}'
    response = client.post("/api/v1/auth/login", content=huge, headers={"content-type": "application/json"})
    assert response.status_code == 413, response.text
    assert response.json()["code"] == "body_too_large"
    assert "volumineuse" in response.json()["message"]
