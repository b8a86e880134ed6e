"""Route guards: every route declares one, so access is explicit and testable.

Guards check the role; the data scope (territory, site) is enforced by the
domain functions, which filter their queries by the actor. They are coroutines: Litestar runs a
plain function guard in a worker thread, a thread hop on every request.

A person signed in with a temporary password (set by an admin) is refused by every guard but
``TEMPORARY_PASSWORD`` (changing it, signing out) with ``password_change_required``: 403 for the
API, a redirect to the password page for the pages.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from litestar.connection import ASGIConnection
from litestar.exceptions import NotAuthorizedException, PermissionDeniedException
from litestar.handlers.base import BaseRouteHandler

from pass_numerique.domain.actors import Actor, Role
from pass_numerique.domain.errors import DomainError

Guard = Callable[[ASGIConnection, BaseRouteHandler], Awaitable[None]]


async def public(connection: ASGIConnection, _: BaseRouteHandler) -> None:
    """Open to anyone, signed in or not (the explicit marker of a public route)."""


def _require_actor(connection: ASGIConnection, *, temporary_password_ok: bool = False) -> Actor:
    actor = connection.scope.get("user")
    if not isinstance(actor, Actor):
        raise NotAuthorizedException("Connexion requise.")
    if actor.must_change_password and not temporary_password_ok:
        raise DomainError("password_change_required")
    return actor


async def authenticated(connection: ASGIConnection, _: BaseRouteHandler) -> None:
    """Any signed-in staff member."""
    _require_actor(connection)


async def even_with_temporary_password(connection: ASGIConnection, _: BaseRouteHandler) -> None:
    """Any signed-in staff member, one who must still replace a temporary password included."""
    _require_actor(connection, temporary_password_ok=True)


even_with_temporary_password.roles = frozenset(Role)  # type: ignore[attr-defined]
authenticated.roles = frozenset(Role)  # type: ignore[attr-defined]


def requires(*roles: Role) -> Guard:
    """Signed in with one of ``roles``."""

    async def guard(connection: ASGIConnection, _: BaseRouteHandler) -> None:
        if _require_actor(connection).role not in roles:
            raise PermissionDeniedException("Vous n'avez pas les droits pour cette action.")

    guard.__name__ = "requires_" + "_or_".join(r.value for r in roles)
    guard.roles = frozenset(roles)  # type: ignore[attr-defined]
    return guard


def roles_of(guard: Guard) -> frozenset[Role]:
    """The roles a guard lets through: what the staff menu shows each role (web/staff/layout.py)."""
    return getattr(guard, "roles", frozenset())


ADMIN = requires(Role.admin)
MANAGERS = requires(Role.admin, Role.coordinator)
ISSUERS = requires(Role.admin, Role.coordinator, Role.issuer)
SITE_AGENT = requires(Role.site_agent)
LOOKUP = requires(Role.site_agent, Role.issuer, Role.coordinator, Role.admin)
UNDO = requires(Role.site_agent, Role.coordinator, Role.admin)
STAFF = authenticated
TEMPORARY_PASSWORD = even_with_temporary_password
"""Changing one's password and signing out: the only routes open before a temporary password is replaced."""
REPORTS = requires(Role.admin, Role.coordinator, Role.issuer, Role.site_agent, Role.viewer)
"""Report readers; the domain narrows each role's figures (a site agent: its site only)."""
STATEMENTS = requires(Role.admin, Role.coordinator, Role.site_agent)
