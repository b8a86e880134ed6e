"""Staff accounts: sign-in limits against password guessing, tokens, password changes and policy,
temporary passwords, the accounts of a site or a structure."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta
from typing import Any

import pytest

from conftest import PASSWORD, World, bearer, run
from pass_numerique.domain.accounts import authentication, users
from pass_numerique.domain.actors import SYSTEM, Role
from pass_numerique.domain.clock import utcnow
from pass_numerique.domain.errors import DomainError
from pass_numerique.domain.tables import ApiToken, LoginFailure
from pass_numerique.settings import get_settings
from test_staff_pages import csrf, login


def attempt(email: str, password: str, **kw) -> str:
    try:
        run(authentication.verify_credentials(email, password, **kw))
        return "ok"
    except DomainError as exc:
        return exc.code


def test_five_failures_lock_the_account_for_fifteen_minutes(world: World) -> None:
    email = world.agent.email
    assert [attempt(email, "wrong-password") for _ in range(5)] == ["invalid_credentials"] * 5
    assert attempt(email.upper(), PASSWORD) == "too_many_attempts"  # even the right password
    assert attempt(world.issuer.email, PASSWORD) == "ok"  # other accounts are not affected
    later = utcnow() + timedelta(seconds=get_settings().login_window_seconds + 1)
    assert attempt(email, PASSWORD, now=later) == "ok"
    assert run(LoginFailure.count()) == 0  # a success clears the failures
    # No e-mail is stored in clear, not even mistyped ones.
    attempt("ghost@test.fr", "x")
    assert "ghost" not in repr(run(LoginFailure.select()))


def test_throttled_login_answers_429_over_http(client, world: World) -> None:
    for _ in range(get_settings().max_login_failures_per_account):
        client.post("/api/v1/auth/login", json={"email": world.agent.email, "password": "nope-nope-nope"})
    response = client.post("/api/v1/auth/login", json={"email": world.agent.email, "password": PASSWORD})
    assert response.status_code == 429
    assert response.json()["code"] == "too_many_attempts"


@pytest.mark.parametrize("email", ["", "not-an-email"])
def test_unknown_emails_are_refused_like_wrong_passwords(world: World, email: str) -> None:
    assert attempt(email, PASSWORD) == "invalid_credentials"


def test_bearer_tokens_resolve_to_the_actor_until_revoked_or_expired(world: World) -> None:
    agent = run(authentication.create_token(world.agent, "phone"))
    actor = run(authentication.authenticate_token(agent.token))
    assert actor is not None and actor.user_id == world.agent.user_id
    assert actor.site_id == world.site.id and actor.territory_ids == frozenset({world.north.id})
    issuer = run(
        authentication.authenticate_token(run(authentication.create_token(world.issuer, "desk")).token)
    )
    assert issuer is not None and issuer.structure_id == world.structure.id
    assert issuer.territory_ids == frozenset({world.north.id})
    coordinator = run(
        authentication.authenticate_token(run(authentication.create_token(world.coordinator, "c")).token)
    )
    assert coordinator is not None and coordinator.territory_ids == frozenset({world.north.id})
    assert run(authentication.authenticate_token(agent.token + "x")) is None
    assert run(authentication.authenticate_token("not-even-a-token")) is None
    run(authentication.revoke_token(world.agent, agent.id))
    assert run(authentication.authenticate_token(agent.token)) is None
    short = run(authentication.create_token(world.agent, "short", expires_in=timedelta(seconds=1)))
    run(
        ApiToken.update({ApiToken.expires_at: utcnow() - timedelta(seconds=1)}).where(ApiToken.id == short.id)
    )
    assert run(authentication.authenticate_token(short.token)) is None
    kept = run(authentication.create_token(world.agent, "kept"))
    run(users.set_active(world.admin, world.agent.user_id, False))
    assert run(authentication.authenticate_token(kept.token)) is None


def test_the_accounts_of_a_site_or_a_structure_within_the_actors_scope(world: World) -> None:
    second = run(
        users.create_user(
            SYSTEM,
            users.UserCreate(
                email="agent-two@test.fr",
                display_name="agent-two",  # after "agent": listed by name
                role=Role.site_agent,
                password=PASSWORD,
                site_id=world.site.id,
            ),
        )
    )
    run(users.set_active(SYSTEM, second.id, False))
    agents = run(users.site_agents(world.coordinator, world.site.id))
    assert [(a.email, a.active) for a in agents] == [(world.agent.email, True), ("agent-two@test.fr", False)]
    issuers = run(users.structure_issuers(world.admin, world.structure_south.id))
    assert [i.email for i in issuers] == [world.issuer_south.email]
    # Another territory's site or structure, or an unknown one, does not exist for a coordinator.
    for refused in (
        lambda: users.site_agents(world.coordinator, world.site_south.id),
        lambda: users.site_agents(world.coordinator, 999_999),
        lambda: users.structure_issuers(world.coordinator, world.structure_south.id),
    ):
        with pytest.raises(DomainError) as caught:
            run(refused())
        assert caught.value.code == "not_found"
    # Only the managers read these lists.
    for actor in (world.issuer, world.agent, world.viewer):
        with pytest.raises(DomainError) as caught:
            run(users.structure_issuers(actor, world.structure.id))
        assert caught.value.code == "forbidden"


@contextmanager
def from_address(client: Any, host: str) -> Iterator[None]:
    """Requests of ``client`` come from ``host`` (Litestar's test transport says ``testclient``)."""
    transport = client._transport
    original = transport.parse_request
    transport.parse_request = lambda request: {**original(request=request), "client": (host, 50000)}
    try:
        yield
    finally:
        transport.parse_request = original


def test_an_attacker_cannot_lock_the_owner_out_of_their_account(world: World) -> None:
    """The account's limit holds back only the clients that failed on it: the owner, from another
    address, still signs in; each new address of the attacker gets one guess."""
    email, limit = world.agent.email, get_settings().max_login_failures_per_account
    attacker, owner, second_attacker = "203.0.113.9", "198.51.100.7", "203.0.113.10"
    assert [attempt(email, "guess-guess", client_address=attacker) for _ in range(limit)] == [
        "invalid_credentials"
    ] * limit
    assert attempt(email, PASSWORD, client_address=attacker) == "too_many_attempts"
    assert attempt(email, PASSWORD, client_address=owner) == "ok"
    assert attempt(email, PASSWORD, client_address=attacker) == "too_many_attempts"  # still
    assert attempt(email, "guess-again", client_address=second_attacker) == "invalid_credentials"
    assert attempt(email, PASSWORD, client_address=second_attacker) == "too_many_attempts"
    # Only keyed hashes of the addresses are stored.
    stored = repr(run(LoginFailure.select()))
    assert "203.0.113" not in stored and authentication.client_hash(attacker) in stored


def test_one_client_trying_many_addresses_gets_429_on_the_api_and_the_page(client, world: World) -> None:
    limit = get_settings().max_login_failures_per_client
    answers = [
        client.post("/api/v1/auth/login", json={"email": f"person{i}@test.fr", "password": "guess-guess"})
        for i in range(30)
    ]
    assert [a.status_code for a in answers] == [401] * limit + [429] * (30 - limit)
    assert answers[-1].json()["code"] == "too_many_attempts"
    assert 1 <= int(answers[-1].headers["retry-after"]) <= get_settings().login_window_seconds
    page = client.post(
        "/staff/login",
        data={"email": world.agent.email, "password": PASSWORD, "_csrf_token": csrf(client)},
        follow_redirects=False,
    )
    assert page.status_code == 429 and "Trop de tentatives" in page.text
    assert int(page.headers["retry-after"]) >= 1
    with from_address(client, "198.51.100.7"):  # another client is not slowed
        assert (
            client.post(
                "/api/v1/auth/login", json={"email": world.agent.email, "password": PASSWORD}
            ).status_code
            == 200
        )


def test_tokens_expire_by_default_and_within_a_maximum(client, world: World) -> None:
    settings = get_settings()
    headers = bearer(client, world.agent)
    created = client.post("/api/v1/auth/tokens", json={"label": "tablette"}, headers=headers)
    assert created.status_code == 201
    expires = datetime.fromisoformat(created.json()["expires_at"])
    expected = utcnow() + timedelta(days=settings.token_default_days)
    assert abs(expires - expected) < timedelta(minutes=1)
    too_long = {"label": "x", "expires_in_days": settings.token_max_days + 1}
    refused = client.post("/api/v1/auth/tokens", json=too_long, headers=headers)
    assert refused.status_code == 422 and refused.json()["details"]["field"] == "expires_in_days"
    longest = {"label": "x", "expires_in_days": settings.token_max_days}
    assert client.post("/api/v1/auth/tokens", json=longest, headers=headers).status_code == 201
    assert all(t["expires_at"] for t in client.get("/api/v1/auth/tokens", headers=headers).json())
    # A token made before tokens expired by default lives the maximum at most.
    legacy = run(authentication.create_token(world.agent, "ancien"))
    created = utcnow() - timedelta(days=settings.token_max_days, minutes=1)
    run(
        ApiToken.update({ApiToken.expires_at: None, ApiToken.created_at: created}).where(
            ApiToken.id == legacy.id
        )
    )
    assert run(authentication.authenticate_token(legacy.token)) is None
    run(ApiToken.update({ApiToken.created_at: utcnow()}).where(ApiToken.id == legacy.id))
    assert run(authentication.authenticate_token(legacy.token)) is not None


NEW_PASSWORD = "trois-pommes-sur-le-buffet"


def test_changing_the_password_revokes_the_other_tokens_and_sessions(client, world: World) -> None:
    current, other = bearer(client, world.agent), bearer(client, world.agent)
    login(client, world.agent)  # a browser session
    changed = client.post(
        "/api/v1/auth/password",
        json={"old_password": PASSWORD, "new_password": NEW_PASSWORD},
        headers=current,
    )
    assert changed.status_code == 204
    assert client.get("/api/v1/auth/me", headers=current).status_code == 200
    assert client.get("/api/v1/auth/me", headers=other).status_code == 401
    assert client.get("/staff/", follow_redirects=False).headers["location"].startswith("/staff/login")
    # From the pages: every token goes, the page's own session stays.
    login_again = client.post(
        "/staff/login",
        data={"email": world.agent.email, "password": NEW_PASSWORD, "_csrf_token": csrf(client)},
        follow_redirects=False,
    )
    assert login_again.status_code == 303
    form = {
        "old_password": NEW_PASSWORD,
        "new_password": PASSWORD + "-2",
        "confirm_password": PASSWORD + "-2",
    }
    assert (
        client.post(
            "/staff/password",
            data={**form, "_csrf_token": csrf(client, "/staff/password")},
            follow_redirects=False,
        ).status_code
        == 303
    )
    assert client.get("/api/v1/auth/me", headers=current).status_code == 401
    assert client.get("/staff/").status_code == 200


def test_a_temporary_password_blocks_the_api_and_the_pages_until_changed(client, world: World) -> None:
    temporary = users.temporary_password()
    run(
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
    signed_in = client.post("/api/v1/auth/login", json={"email": "nina@test.fr", "password": temporary})
    assert signed_in.status_code == 200 and signed_in.json()["user"]["must_change_password"]
    headers = {"Authorization": f"Bearer {signed_in.json()['token']['token']}"}
    for method, path, body in (
        ("GET", "/api/v1/auth/me", None),
        ("GET", "/api/v1/scanner/context", None),
        ("POST", "/api/v1/vouchers/lookup", {"code": "ZZZZ-ZZZZ-ZZZZ"}),
        ("GET", "/api/v1/auth/tokens", None),
    ):
        refused = client.request(method, path, json=body, headers=headers)
        assert refused.status_code == 403, path
        assert refused.json()["code"] == "password_change_required"
    # The pages send the person to the password form, and nowhere else.
    page = client.post(
        "/staff/login",
        data={"email": "nina@test.fr", "password": temporary, "_csrf_token": csrf(client)},
        follow_redirects=False,
    )
    assert page.headers["location"] == "/staff/password?fait=must_change"
    for path in ("/staff/", "/staff/reports"):
        assert (
            client.get(path, follow_redirects=False).headers["location"] == "/staff/password?fait=must_change"
        )
    assert client.get("/staff/password").status_code == 200
    changed = client.post(
        "/api/v1/auth/password",
        json={"old_password": temporary, "new_password": NEW_PASSWORD},
        headers=headers,
    )
    assert changed.status_code == 204
    me = client.get("/api/v1/auth/me", headers=headers)
    assert me.status_code == 200 and not me.json().get("must_change_password", False)
    # An admin's reset blocks the tokens the person already has, at once.
    run(users.reset_password(world.admin, me.json()["user_id"]))
    assert client.get("/api/v1/auth/me", headers=headers).json()["code"] == "password_change_required"
    assert client.post("/api/v1/auth/logout", headers=headers).status_code == 204
    assert client.get("/api/v1/auth/me", headers=headers).status_code == 401


@pytest.mark.parametrize("common", ["motdepasse123", "Azertyuiop", "1234567890", "qwertyuiop", "password123"])
def test_common_passwords_are_refused_wherever_a_password_is_set(client, world: World, common: str) -> None:
    with pytest.raises(DomainError) as caught:
        users.check_new_password(common)
    assert "courants" in caught.value.message
    with pytest.raises(DomainError):
        run(
            users.create_user(
                SYSTEM,
                users.UserCreate(email="x@test.fr", display_name="X", role=Role.admin, password=common),
            )
        )
    refused = client.post(
        "/api/v1/auth/password",
        json={"old_password": PASSWORD, "new_password": common},
        headers=bearer(client, world.agent),
    )
    assert refused.status_code == 422 and refused.json()["details"]["field"] == "new_password"
    users.check_new_password(NEW_PASSWORD)  # a passphrase is fine


def test_a_password_longer_than_the_api_takes_cannot_be_set_from_the_pages(client, world: World) -> None:
    """The API decodes at most bounds.PASSWORD_LENGTH characters; the page took 100,000 (303)."""
    login(client, world.agent)
    huge = "x" * 100_000
    response = client.post(
        "/staff/password",
        data={
            "old_password": PASSWORD,
            "new_password": huge,
            "confirm_password": huge,
            "_csrf_token": csrf(client, "/staff/password"),
        },
        follow_redirects=False,
    )
    assert response.status_code == 422, response.text[-2000:]
    assert "au plus" in response.text
    # The old password still signs in.
    ok = client.post("/api/v1/auth/login", json={"email": world.agent.email, "password": PASSWORD})
    assert ok.status_code == 200
