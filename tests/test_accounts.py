"""Staff accounts: sign-in throttling against password guessing, the accounts of a site or a structure."""

from __future__ import annotations

from datetime import timedelta

import pytest

from conftest import PASSWORD, World, run
from pass_numerique.domain.accounts import authentication, users
from pass_numerique.domain.actors import SYSTEM, Role
from pass_numerique.domain.clock import utcnow
from pass_numerique.domain.errors import DomainError
from pass_numerique.domain.tables import ApiToken, LoginFailure
from pass_numerique.settings import get_settings


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
