"""Test set-up: the same suite runs on SQLite (default) and on PostgreSQL.

``PN_TEST_ENGINE=postgres`` (with ``PN_TEST_POSTGRES_URL``) selects PostgreSQL;
``make test`` runs both. The environment is set before the package is imported.
Each test starts from an empty, migrated database; data is built through the
domain API (see ``World``), never by raw inserts.
"""

from __future__ import annotations

import asyncio
import importlib.util
import os
import shutil
import tempfile
from collections.abc import Awaitable, Iterator
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from types import ModuleType
from typing import Any, TypeVar
from urllib.parse import urlsplit, urlunsplit

import pytest
from asyncpg.exceptions import DeadlockDetectedError

ENGINE = os.environ.get("PN_TEST_ENGINE", "sqlite")
_TMP = Path(tempfile.mkdtemp(prefix="pn-test-"))
# One database per test process, so parallel runs (and engineers) never collide.
_PG_TEST_DB = f"pn_test_{os.getpid()}"

if ENGINE == "postgres":
    _pg_url = os.environ.get("PN_TEST_POSTGRES_URL")
    if not _pg_url:
        raise RuntimeError("PN_TEST_ENGINE=postgres needs PN_TEST_POSTGRES_URL")
    _parts = urlsplit(_pg_url)
    os.environ["PN_DATABASE_URL"] = urlunsplit(_parts._replace(path=f"/{_PG_TEST_DB}"))
else:
    os.environ["PN_DATABASE_URL"] = f"sqlite:///{_TMP / 'test.sqlite3'}"
os.environ["PN_KEYS_DIR"] = str(_TMP / "keys")
# Print jobs write their files here, never into the checkout's var/.
os.environ["PN_PRINT_DIR"] = str(_TMP / "prints")
os.environ["PN_SECRET_KEY"] = "test-secret-key-that-is-long-enough-0123456789"
os.environ["PN_PUBLIC_URL"] = "http://testserver"
# argon2-cffi's test profile: the recommended one costs 0.15 s per hash, and every test makes nine.
os.environ["PN_ARGON2_PROFILE"] = "cheapest"
# No pool in tests: fixtures and the test client run in different event loops.
os.environ["PN_DB_POOL_SIZE"] = "0"

from pass_numerique.db.transaction import engine
from pass_numerique.domain.accounts import authentication, users
from pass_numerique.domain.actors import (
    SYSTEM,
    Actor,
    Role,
)
from pass_numerique.domain.partners import sites, structures
from pass_numerique.domain.scheme import programmes, territories
from pass_numerique.domain.states import AccreditationStatus
from pass_numerique.migrations import migrate

T = TypeVar("T")
PASSWORD = "correct-horse-battery"


def run(awaitable: Awaitable[T]) -> T:
    """Run a domain coroutine (or a Piccolo query) from a synchronous test."""

    async def main() -> T:
        return await awaitable

    return asyncio.run(main())


async def _recreate_postgres_database() -> None:
    import asyncpg

    admin = await asyncpg.connect(os.environ["PN_TEST_POSTGRES_URL"])
    try:
        await admin.execute(f"DROP DATABASE IF EXISTS {_PG_TEST_DB} WITH (FORCE)")
        await admin.execute(f"CREATE DATABASE {_PG_TEST_DB}")
    finally:
        await admin.close()


async def _drop_postgres_database() -> None:
    import asyncpg

    admin = await asyncpg.connect(os.environ["PN_TEST_POSTGRES_URL"])
    try:
        await admin.execute(f"DROP DATABASE IF EXISTS {_PG_TEST_DB} WITH (FORCE)")
    finally:
        await admin.close()


_TABLES: list[str] = []


@pytest.fixture(scope="session", autouse=True)
def _schema() -> Iterator[None]:
    if ENGINE == "postgres":
        run(_recreate_postgres_database())
    run(migrate())
    if ENGINE == "sqlite":
        shutil.copyfile(_TMP / "test.sqlite3", _TMP / "template.sqlite3")
    else:
        rows = run(engine().run_ddl("SELECT tablename FROM pg_tables WHERE schemaname = 'public'"))
        _TABLES.extend(r["tablename"] for r in rows if r["tablename"] != "migration")
    yield
    if ENGINE == "postgres":
        run(_drop_postgres_database())
    shutil.rmtree(_TMP, ignore_errors=True)


@pytest.fixture(autouse=True)
def _empty_database() -> None:
    """Every test starts from the migrated, empty database, and no print files (their names carry
    the ids, which start again at 1)."""
    shutil.rmtree(os.environ["PN_PRINT_DIR"], ignore_errors=True)
    if ENGINE == "sqlite":
        for suffix in ("-wal", "-shm"):
            (_TMP / f"test.sqlite3{suffix}").unlink(missing_ok=True)
        shutil.copyfile(_TMP / "template.sqlite3", _TMP / "test.sqlite3")
    else:
        # TRUNCATE does not fire the audit table's row triggers (append-only for the app). A request
        # of the previous browser test's page may still hold a lock: PostgreSQL then picks one side
        # of the deadlock, and the reset is simply run again.
        for attempt in range(3):
            try:
                run(engine().run_ddl(f"TRUNCATE {', '.join(_TABLES)} RESTART IDENTITY CASCADE"))
                break
            except DeadlockDetectedError:
                if attempt == 2:
                    raise


@dataclass
class World:
    """A small département built through the domain API: two territories, one of everything."""

    north: territories.TerritoryOut
    south: territories.TerritoryOut
    programme: programmes.ProgrammeOut
    site: sites.SiteOut  # accredited, north
    site_south: sites.SiteOut  # accredited, south
    site_pending: sites.SiteOut  # not accredited, north
    structure: structures.StructureOut  # north
    structure_south: structures.StructureOut
    admin: Actor
    coordinator: Actor  # north only
    issuer: Actor  # north
    issuer_south: Actor
    agent: Actor  # site (north)
    agent_south: Actor
    agent_pending: Actor
    viewer: Actor

    def by_role(self, role: str) -> Actor:
        """The world's main account of ``role`` (northern territory, accredited site)."""
        return {
            "admin": self.admin,
            "coordinator": self.coordinator,
            "issuer": self.issuer,
            "site_agent": self.agent,
            "viewer": self.viewer,
        }[role]


async def build_world() -> World:
    north = await territories.create_territory(SYSTEM, territories.TerritoryCreate(code="TAS-N", name="Nord"))
    south = await territories.create_territory(SYSTEM, territories.TerritoryCreate(code="TAS-S", name="Sud"))
    programme = await programmes.create_programme(
        SYSTEM,
        programmes.ProgrammeCreate(
            name="Pass test",
            funders=["Département"],
            # Narrower than the national list a programme offers by default: tests of a theme the
            # programme does not allow use « sante ».
            themes=[
                "aide_aux_demarches_administratives",
                "prendre_en_main_du_materiel",
                "email",
                "navigation_sur_internet",
                "insertion_professionnelle",
                "securite_numerique",
            ],
        ),
    )
    accredited = sites.Accreditation(status=AccreditationStatus.accredited, accredited_from=date(2020, 1, 1))
    site = await sites.create_site(SYSTEM, sites.SiteCreate(name="Médiathèque Nord", territory_id=north.id))
    site = await sites.set_accreditation(SYSTEM, site.id, accredited)
    site_south = await sites.create_site(SYSTEM, sites.SiteCreate(name="Espace Sud", territory_id=south.id))
    site_south = await sites.set_accreditation(SYSTEM, site_south.id, accredited)
    site_pending = await sites.create_site(
        SYSTEM, sites.SiteCreate(name="Lieu en attente", territory_id=north.id)
    )
    structure = await structures.create_structure(
        SYSTEM, structures.StructureCreate(name="MDS Nord", territory_id=north.id, kind="mds")
    )
    structure_south = await structures.create_structure(
        SYSTEM, structures.StructureCreate(name="CCAS Sud", territory_id=south.id, kind="ccas")
    )

    async def user(name: str, role: Role, **scope: Any) -> Actor:
        created = await users.create_user(
            SYSTEM,
            users.UserCreate(
                email=f"{name}@test.fr", display_name=name, role=role, password=PASSWORD, **scope
            ),
        )
        actor = await authentication.actor_for_user(created.id)
        assert actor is not None
        return actor

    return World(
        north=north,
        south=south,
        programme=programme,
        site=site,
        site_south=site_south,
        site_pending=site_pending,
        structure=structure,
        structure_south=structure_south,
        admin=await user("admin", Role.admin),
        coordinator=await user("coordinator", Role.coordinator, territory_ids=[north.id]),
        issuer=await user("issuer", Role.issuer, structure_id=structure.id),
        issuer_south=await user("issuer-south", Role.issuer, structure_id=structure_south.id),
        agent=await user("agent", Role.site_agent, site_id=site.id),
        agent_south=await user("agent-south", Role.site_agent, site_id=site_south.id),
        agent_pending=await user("agent-pending", Role.site_agent, site_id=site_pending.id),
        viewer=await user("viewer", Role.viewer),
    )


@pytest.fixture
def world() -> World:
    return run(build_world())


@pytest.fixture
def client() -> Iterator[Any]:
    """A real HTTP client on the real application (Litestar's test client)."""
    from litestar.testing import TestClient

    from pass_numerique.asgi import create_app

    with TestClient(app=create_app()) as test_client:
        yield test_client


def issue(world: World, issuer: Actor | None = None) -> tuple[Any, list[Any]]:
    """Issue a booklet to a new beneficiary of the issuer's territory; returns it with its codes."""
    from pass_numerique.domain.issuance import beneficiaries, lifecycle

    issuer = issuer or world.issuer
    booklet = run(
        lifecycle.issue_booklet(
            issuer,
            lifecycle.IssueRequest(
                programme_id=world.programme.id,
                beneficiary=beneficiaries.BeneficiaryCreate(territory_id=next(iter(issuer.territory_ids))),
            ),
        )
    )
    return booklet, run(lifecycle.booklet_codes(issuer, booklet.serial))


def bearer(client: Any, actor: Actor) -> dict[str, str]:
    """Log in over HTTP and return the Authorization header."""
    response = client.post("/api/v1/auth/login", json={"email": actor.email, "password": PASSWORD})
    assert response.status_code == 200, response.text
    return {"Authorization": f"Bearer {response.json()['token']['token']}"}


def load_migration(filename: str) -> ModuleType:
    """A migration file of piccolo_migrations/ as a module, to run its statements on a test database."""
    path = Path(__file__).parents[1] / "piccolo_migrations" / filename
    spec = importlib.util.spec_from_file_location(filename.removesuffix(".py"), path)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module
