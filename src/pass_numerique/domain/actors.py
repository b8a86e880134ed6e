"""Who is acting, with which role and over which data: the scope every domain function checks."""

from __future__ import annotations

from enum import StrEnum

import msgspec

from pass_numerique.domain.errors import DomainError


class Role(StrEnum):
    """What a staff account may do (README, "Roles"); its data scope comes with it."""

    admin = "admin"
    coordinator = "coordinator"
    issuer = "issuer"
    site_agent = "site_agent"
    viewer = "viewer"


MANAGERS = (Role.admin, Role.coordinator)


class Actor(msgspec.Struct, frozen=True, kw_only=True):
    """Who acts, and the data scope derived from their role: a signed-in staff member, or ``SYSTEM``."""

    user_id: int | None
    """The staff account; None only for ``SYSTEM``, so audit events record no account."""
    email: str
    display_name: str
    role: Role
    territory_ids: frozenset[int] = frozenset()
    """Coordinators: their territories; issuers and site agents: their structure's or site's."""
    site_id: int | None = None
    structure_id: int | None = None
    must_change_password: bool = False
    """Signed in with a temporary password set by an admin: nothing but changing it is allowed."""

    @property
    def is_admin(self) -> bool:
        return self.role == Role.admin

    def require_role(self, *roles: Role) -> None:
        """Refuse with ``forbidden`` unless the actor has one of ``roles``."""
        if self.role not in roles:
            raise DomainError("forbidden")

    def sees_territory(self, territory_id: int) -> bool:
        """Whether detailed data of this territory is within the actor's scope."""
        return self.is_admin or (self.role != Role.viewer and territory_id in self.territory_ids)

    def require_territory(self, territory_id: int) -> None:
        if not self.sees_territory(territory_id):
            raise DomainError("forbidden")

    def territory_filter(self) -> frozenset[int] | None:
        """None for every territory (admins), else the set the actor is limited to."""
        return None if self.is_admin else self.territory_ids


SYSTEM = Actor(user_id=None, email="", display_name="Système", role=Role.admin)
"""The installation itself acting: the command line, the demo loader, migrations' follow-ups and
the tests' set-up. Every domain function takes an actor, so a caller skips no scope check by
forgetting one; this one has an admin's scope and its audit events name no account."""
