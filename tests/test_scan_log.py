"""Every code looked up or redeemed lands in the scan log, refused ones too; failures are limited."""

from __future__ import annotations

from datetime import timedelta

from conftest import PASSWORD, World, bearer, issue, run
from pass_numerique.domain.accounts import authentication, users
from pass_numerique.domain.actors import SYSTEM, Role
from pass_numerique.domain.clock import utcnow
from pass_numerique.domain.redemption import lookup
from pass_numerique.domain.tables import ScanAttempt
from pass_numerique.settings import get_settings
from redemption_support import redeem_codes, refusal


def test_every_attempt_is_logged_including_refusals(world: World) -> None:
    _, codes = issue(world)
    redeem_codes(world, [codes[0].url], "request-0001")
    refusal(lambda: redeem_codes(world, [codes[0].url], "request-0002"))
    refusal(lambda: redeem_codes(world, ["ZZZZ-ZZZZ-ZZZZ"], "request-0003"))
    run(lookup.lookup(world.agent, codes[1].url))
    rows = run(
        ScanAttempt.select(
            ScanAttempt.outcome, ScanAttempt.action, ScanAttempt.request_id, ScanAttempt.site
        ).order_by(ScanAttempt.id)
    )
    assert [r["outcome"] for r in rows] == ["redeemed", "already_redeemed", "invalid_checksum", "ok"]
    assert [r["action"] for r in rows] == ["redeem", "redeem", "redeem", "lookup"]
    assert [r["request_id"] for r in rows] == ["request-0001", "request-0002", "request-0003", ""]
    assert {r["site"] for r in rows} == {world.site.id}


def test_the_scanned_text_is_kept_up_to_200_characters(world: World) -> None:
    junk = "x" * 300
    refusal(lambda: redeem_codes(world, [junk], "request-0001"))
    assert run(ScanAttempt.select(ScanAttempt.scanned).first())["scanned"] == junk[:200]


def test_failed_attempts_of_an_agent_are_limited_with_retry_after(client, world: World) -> None:
    """A code guesser gets 429 after PN_MAX_FAILED_ATTEMPTS_PER_AGENT failures in the window, on
    the look-up and the redemption alike, with how long to wait; the window then frees it."""
    limit = get_settings().max_failed_attempts_per_agent
    _, codes = issue(world)
    headers = bearer(client, world.agent)
    guesses = [f"ZZZZ-ZZZZ-{i:04d}" for i in range(limit)]
    answers = [client.post("/api/v1/vouchers/lookup", json={"code": g}, headers=headers) for g in guesses]
    assert {a.status_code for a in answers} == {422}
    for path, body in (
        ("/api/v1/vouchers/lookup", {"code": codes[0].url}),
        ("/api/v1/redemptions", {"codes": [codes[0].url], "theme": "email", "request_id": "after-limit"}),
    ):
        refused = client.post(path, json=body, headers=headers)
        assert refused.status_code == 429, path
        assert refused.json()["code"] == "too_many_attempts"
        assert 1 <= int(refused.headers["retry-after"]) <= get_settings().attempt_window_seconds
    assert run(ScanAttempt.count()) == limit  # refused before anything is read or logged
    # Another agent of another site is not slowed; the window frees the guesser.
    assert run(lookup.lookup(world.agent_south, codes[0].url)).ok
    later = utcnow() + timedelta(seconds=get_settings().attempt_window_seconds + 1)
    assert run(lookup.lookup(world.agent, codes[0].url, now=later)).ok


def test_failed_attempts_of_a_site_are_limited_across_its_agents(world: World) -> None:
    limit = get_settings().max_failed_attempts_per_site
    per_agent = get_settings().max_failed_attempts_per_agent - 1
    agents = []
    for i in range(limit // per_agent + 2):
        created = run(
            users.create_user(
                SYSTEM,
                users.UserCreate(
                    email=f"agent{i}@test.fr",
                    display_name=f"Agent {i}",
                    role=Role.site_agent,
                    password=PASSWORD,
                    site_id=world.site.id,
                ),
            )
        )
        agents.append(run(authentication.actor_for_user(created.id)))
    failures = 0
    for agent in agents:
        for _ in range(per_agent):
            if failures == limit:
                break
            assert refusal(lambda a=agent: run(lookup.lookup(a, "ZZZZ-ZZZZ-ZZZZ"))).code == "invalid_checksum"
            failures += 1
    fresh = agents[-1]  # has not failed once
    assert refusal(lambda: run(lookup.lookup(fresh, "ZZZZ-ZZZZ-ZZZZ"))).code == "too_many_attempts"
    # Another site is not slowed.
    assert refusal(lambda: run(lookup.lookup(world.agent_south, "ZZZZ-ZZZZ-ZZZZ"))).code == "invalid_checksum"


def test_a_busy_site_is_never_limited_by_its_successes(world: World) -> None:
    """Successes do not count: far more look-ups and redemptions than any limit, then a few
    honest mistakes, and the agent still works."""
    busy = 2 * get_settings().max_failed_attempts_per_site
    _, codes = issue(world)
    for i in range(busy):
        assert run(lookup.lookup(world.agent, codes[i % len(codes)].url)).ok
    for i, code in enumerate(codes):
        redeem_codes(world, [code.url], f"busy-request-{i}")
    for i in range(3):
        refusal(lambda i=i: redeem_codes(world, [codes[0].url], f"already-{i}"))
    assert run(lookup.lookup(world.agent, codes[0].url)).code == "already_redeemed"
