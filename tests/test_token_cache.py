# ruff: noqa: S608 - the SQL below is built from the fixtures' integer ids
"""The per-process cache of bearer tokens: what it keeps, for how long, and what empties it.

The unit tests drive a ``TokenCache`` of their own. The HTTP tests run the real application,
with its change listener on PostgreSQL; on SQLite, where nothing is cached, they check that
every change applies at the next request all the same.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta

import asyncpg
import pytest

from conftest import ENGINE, World, bearer, run
from pass_numerique.db.auth_changes import CHANNEL
from pass_numerique.db.engine import postgres_config
from pass_numerique.domain.accounts import authentication, users
from pass_numerique.domain.actors import Actor, Role
from pass_numerique.domain.partners import sites, structures
from pass_numerique.domain.tables import ApiToken
from pass_numerique.security import token_cache
from pass_numerique.settings import get_settings

NOW = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)
ACTOR = Actor(user_id=7, email="a@test.fr", display_name="A", role=Role.site_agent, site_id=3)
LIFETIME = timedelta(seconds=get_settings().token_cache_seconds)


def listening_cache() -> token_cache.TokenCache:
    cache = token_cache.TokenCache()
    cache.set_listening(True)
    return cache


def remember(cache: token_cache.TokenCache, key: str = "k", expires_at: datetime | None = None) -> None:
    cache.remember(key, ACTOR, read_at=NOW, expires_at=expires_at, generation=cache.generation)


def test_an_actor_is_kept_for_the_lifetime_and_never_past_its_token_expiry() -> None:
    cache = listening_cache()
    remember(cache)
    assert cache.lookup("k", NOW) == ACTOR
    assert cache.lookup("k", NOW + LIFETIME - timedelta(microseconds=1)) == ACTOR
    assert cache.lookup("k", NOW + LIFETIME) is None
    assert len(cache) == 0  # a stale entry is dropped when met
    remember(cache, expires_at=NOW + timedelta(seconds=2))
    assert cache.lookup("k", NOW + timedelta(seconds=1)) == ACTOR
    assert cache.lookup("k", NOW + timedelta(seconds=2)) is None


def test_nothing_is_kept_or_answered_without_the_listener() -> None:
    cache = token_cache.TokenCache()
    remember(cache)
    assert len(cache) == 0
    cache = listening_cache()
    remember(cache)
    cache.set_listening(False)  # the listener lost its connection
    assert len(cache) == 0 and cache.lookup("k", NOW) is None
    cache.set_listening(True)
    assert cache.lookup("k", NOW) is None  # a reconnection starts from empty


def test_a_change_empties_the_cache_and_discards_look_ups_it_overtook() -> None:
    cache = listening_cache()
    remember(cache, "a")
    before = cache.generation  # a look-up starts, reads the old row...
    cache.forget_all()  # ...a revocation commits...
    cache.remember("b", ACTOR, read_at=NOW, expires_at=None, generation=before)  # ...the look-up ends
    assert cache.lookup("a", NOW) is None and cache.lookup("b", NOW) is None
    remember(cache, "c")
    assert cache.lookup("c", NOW) == ACTOR


def test_the_cache_is_bounded(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(token_cache, "MAX_ENTRIES", 3)
    cache = listening_cache()
    for key in "abcd":
        remember(cache, key)
    assert len(cache) == 3 and cache.lookup("a", NOW) is None and cache.lookup("d", NOW) == ACTOR


def eventually(condition: Callable[[], bool], seconds: float = 5.0) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.01)
    return condition()


async def _sql_from_another_process(statement: str, *, triggers: bool = True) -> None:
    """Change the database the way another server worker would: on a connection of its own."""
    if ENGINE == "sqlite":
        await ApiToken.raw(statement)
        return
    connection = await asyncpg.connect(**postgres_config(get_settings().database_url))
    try:
        if not triggers:  # a change no trigger sees: only the cache can still answer
            await connection.execute("SET session_replication_role = replica")
        await connection.execute(statement)
    finally:
        await connection.close()


def me(client, headers: dict[str, str]) -> int:
    return client.get("/api/v1/auth/me", headers=headers).status_code


def test_a_change_made_by_another_worker_applies_at_once_or_on_its_notification(client, world: World) -> None:
    headers = bearer(client, world.agent)
    assert me(client, headers) == 200
    if ENGINE == "sqlite":  # no notifications, so nothing is cached: every request reads the database
        assert not token_cache.CACHE.active and len(token_cache.CACHE) == 0
        run(_sql_from_another_process("UPDATE api_token SET revoked_at = CURRENT_TIMESTAMP"))
        assert me(client, headers) == 401
        return
    assert token_cache.CACHE.active and len(token_cache.CACHE) == 1
    # Revoked behind every trigger's back: the cached actor still answers, so the cache is in use.
    run(_sql_from_another_process("UPDATE api_token SET revoked_at = now()", triggers=False))
    assert me(client, headers) == 200
    run(_sql_from_another_process(f"NOTIFY {CHANNEL}"))
    assert eventually(lambda: len(token_cache.CACHE) == 0)
    assert me(client, headers) == 401
    # The listener's connection is cut: the cache is off until it reconnects, by itself.
    run(
        _sql_from_another_process(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
            "WHERE datname = current_database() AND query LIKE 'LISTEN%'"
        )
    )
    assert eventually(lambda: not token_cache.CACHE.active)
    assert eventually(lambda: token_cache.CACHE.active)


def test_the_triggers_notify_on_what_authentication_reads_and_only_that(world: World) -> None:
    if ENGINE == "sqlite":  # m0030 is PostgreSQL's alone
        names = run(ApiToken.raw("SELECT name FROM sqlite_master WHERE type = 'trigger'"))
        assert not [r for r in names if r["name"].endswith("_auth_changed")]
        return
    site_id, structure_id, north, south = world.site.id, world.structure.id, world.north.id, world.south.id
    token = run(authentication.create_token(world.agent, "phone"))
    cases = {
        f"UPDATE api_token SET revoked_at = now() WHERE id = {token.id}": True,
        f"UPDATE api_token SET last_used_at = now() WHERE id = {token.id}": False,
        f"UPDATE staff_user SET role = 'viewer' WHERE id = {world.agent.user_id}": True,
        f"UPDATE staff_user SET active = false WHERE id = {world.issuer.user_id}": True,
        f"UPDATE staff_user SET last_login_at = now() WHERE id = {world.admin.user_id}": False,
        f"DELETE FROM coordinator_territory WHERE staff_user = {world.coordinator.user_id}": True,
        f"UPDATE partner_site SET name = 'Autre nom', territory = {north} WHERE id = {site_id}": False,
        f"UPDATE partner_site SET territory = {south} WHERE id = {site_id}": True,
        f"UPDATE distributing_structure SET territory = {north} WHERE id = {structure_id}": False,
        f"UPDATE distributing_structure SET territory = {south} WHERE id = {structure_id}": True,
    }

    async def notified(statement: str) -> bool:
        heard = asyncio.Event()
        listener = await asyncpg.connect(**postgres_config(get_settings().database_url))
        try:
            await listener.add_listener(CHANNEL, lambda *_: heard.set())
            await _sql_from_another_process(statement)
            try:
                await asyncio.wait_for(heard.wait(), 1.0)
            except TimeoutError:
                return False
            return True
        finally:
            await listener.close()

    assert {statement: run(notified(statement)) for statement in cases} == cases


def test_revoking_deactivating_or_moving_applies_at_the_next_request(client, world: World) -> None:
    headers = bearer(client, world.agent)
    assert me(client, headers) == 200  # cached on PostgreSQL from here on
    run(users.set_active(world.admin, world.agent.user_id, False))
    assert me(client, headers) == 401

    issuer = bearer(client, world.issuer)
    assert client.get("/api/v1/auth/me", headers=issuer).json()["territory_ids"] == [world.north.id]
    structure = run(structures.get_structure(world.admin, world.structure.id))
    run(
        structures.update_structure(
            world.admin,
            structure.id,
            structures.StructureCreate(name=structure.name, kind=structure.kind, territory_id=world.south.id),
        )
    )
    assert client.get("/api/v1/auth/me", headers=issuer).json()["territory_ids"] == [world.south.id]

    agent = bearer(client, world.agent_south)
    site = run(sites.get_site(world.admin, world.site_south.id))
    assert client.get("/api/v1/auth/me", headers=agent).json()["territory_ids"] == [world.south.id]
    moved = sites.SiteCreate(name=site.name, territory_id=world.north.id)
    run(sites.update_site(world.admin, site.id, moved))
    assert client.get("/api/v1/auth/me", headers=agent).json()["territory_ids"] == [world.north.id]


@pytest.fixture
def cache_on() -> Iterator[token_cache.TokenCache]:
    """This process's cache, switched on as the change listener does when it connects."""
    token_cache.CACHE.set_listening(True)
    yield token_cache.CACHE
    token_cache.CACHE.set_listening(False)


def test_each_change_empties_this_process_cache_as_soon_as_it_commits(
    world: World, cache_on: token_cache.TokenCache
) -> None:
    """No waiting for the notification: the process that changes something forgets at once."""
    phone = run(authentication.create_token(world.agent, "phone"))
    desk = run(authentication.create_token(world.issuer, "desk"))
    structure = run(structures.get_structure(world.admin, world.structure.id))
    site = run(sites.get_site(world.admin, world.site.id))
    changes = {
        "revoke": lambda: authentication.revoke_token(world.admin, desk.id),
        "deactivate": lambda: users.set_active(world.admin, world.viewer.user_id, False),
        "update user": lambda: users.update_user(
            world.admin,
            world.agent_south.user_id,
            users.UserUpdate(display_name="Agent", role=Role.site_agent, site_id=world.site_south.id),
        ),
        "move structure": lambda: structures.update_structure(
            world.admin,
            structure.id,
            structures.StructureCreate(name=structure.name, kind=structure.kind, territory_id=world.south.id),
        ),
        "move site": lambda: sites.update_site(
            world.admin, site.id, sites.SiteCreate(name=site.name, territory_id=world.south.id)
        ),
    }
    emptied = {}
    for name, change in changes.items():
        assert run(authentication.authenticate_token(phone.token)) is not None
        assert len(cache_on) == 1
        run(change())
        emptied[name] = len(cache_on) == 0
    assert emptied == dict.fromkeys(changes, True)
    # A rename moves nobody's scope: the cache stays.
    assert run(authentication.authenticate_token(phone.token)) is not None
    renamed = sites.SiteCreate(name="Nouveau nom", territory_id=world.south.id)
    run(sites.update_site(world.admin, site.id, renamed))
    assert len(cache_on) == 1
