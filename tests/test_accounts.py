"""Staff accounts: sign-in throttling against password guessing."""

from __future__ import annotations

from datetime import timedelta

import pytest

from conftest import PASSWORD, World, run
from pass_numerique.db.tables import LoginFailure
from pass_numerique.domain import accounts
from pass_numerique.domain.clock import utcnow
from pass_numerique.domain.errors import DomainError


def attempt(email: str, password: str, **kw) -> str:
    try:
        run(accounts.verify_credentials(email, password, **kw))
        return "ok"
    except DomainError as exc:
        return exc.code


def test_five_failures_lock_the_account_for_fifteen_minutes(world: World) -> None:
    email = world.agent.email
    assert [attempt(email, "wrong-password") for _ in range(5)] == ["invalid_credentials"] * 5
    assert attempt(email.upper(), PASSWORD) == "too_many_attempts"  # even the right password
    assert attempt(world.issuer.email, PASSWORD) == "ok"  # other accounts are not affected
    later = utcnow() + accounts.LOGIN_FAILURE_WINDOW + timedelta(seconds=1)
    assert attempt(email, PASSWORD, now=later) == "ok"
    assert run(LoginFailure.count()) == 0  # a success clears the failures
    # No e-mail is stored in clear, not even mistyped ones.
    attempt("ghost@test.fr", "x")
    assert "ghost" not in repr(run(LoginFailure.select()))


def test_throttled_login_answers_429_over_http(client, world: World) -> None:
    for _ in range(accounts.MAX_LOGIN_FAILURES):
        client.post("/api/v1/auth/login", json={"email": world.agent.email, "password": "nope-nope-nope"})
    response = client.post("/api/v1/auth/login", json={"email": world.agent.email, "password": PASSWORD})
    assert response.status_code == 429
    assert response.json()["code"] == "too_many_attempts"


@pytest.mark.parametrize("email", ["", "not-an-email"])
def test_unknown_emails_are_refused_like_wrong_passwords(world: World, email: str) -> None:
    assert attempt(email, PASSWORD) == "invalid_credentials"
