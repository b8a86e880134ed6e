"""Staff accounts administered by the admins: creation with a role and its scope, edits,
deactivation, temporary passwords; and the password policy every new password meets.

Signing in and bearer tokens are in ``authentication``."""

from __future__ import annotations

import secrets
from functools import cache
from importlib import resources

import msgspec
from piccolo.columns import ForeignKey

from pass_numerique.db.transaction import write_transaction
from pass_numerique.domain import audit, bounds
from pass_numerique.domain.actors import MANAGERS, Actor, Role
from pass_numerique.domain.clock import utcnow
from pass_numerique.domain.errors import DomainError, not_found
from pass_numerique.domain.tables import (
    ApiToken,
    CoordinatorTerritory,
    DistributingStructure,
    PartnerSite,
    StaffSession,
    StaffUser,
)
from pass_numerique.security import passwords, token_cache


class UserCreate(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    """A new staff account. The scope field required depends on the role."""

    email: bounds.Email
    display_name: bounds.Name
    role: Role
    password: bounds.Password
    territory_ids: bounds.Ids = []
    site_id: bounds.Id | None = None
    structure_id: bounds.Id | None = None
    must_change_password: bool = False
    """A temporary password (an invitation): to be changed at the first sign-in."""


class User(msgspec.Struct, kw_only=True):
    id: int
    email: str
    display_name: str
    role: Role
    active: bool
    site_id: int | None
    structure_id: int | None
    territory_ids: list[int]


def normalise_email(email: str) -> str:
    email = email.strip().lower()
    if "@" not in email or len(email) > 254:
        raise DomainError("invalid_input", "Adresse e-mail invalide.", field="email")
    return email


# Bundled lists (data/common-passwords.LICENSE.txt says where they come from), lowercased.
_COMMON_PASSWORD_FILES = ("common-passwords.txt", "common-passwords-fr.txt")


@cache
def _common_passwords() -> frozenset[str]:
    folder = resources.files("pass_numerique.data")
    return frozenset(
        line.strip()
        for name in _COMMON_PASSWORD_FILES
        for line in folder.joinpath(name).read_text("utf-8").splitlines()
        if line.strip()
    )


def check_new_password(password: str, *, field: str = "password") -> None:
    """The password policy, met by every password a person or an admin sets (account creation, the
    command line, a password change): long enough, and none of the commonest passwords."""
    if len(password) < passwords.MIN_LENGTH:
        raise DomainError(
            "invalid_input",
            f"Le mot de passe doit contenir au moins {passwords.MIN_LENGTH} caractères.",
            field=field,
        )
    if len(password) > bounds.PASSWORD_LENGTH:  # the API decodes no longer one: nor may a page set it
        raise DomainError(
            "invalid_input",
            f"Le mot de passe doit contenir au plus {bounds.PASSWORD_LENGTH} caractères.",
            field=field,
        )
    if password.strip().lower() in _common_passwords():
        raise DomainError(
            "invalid_input",
            "Ce mot de passe fait partie des plus courants, les premiers essayés par un attaquant : "
            "choisissez-en un autre (une phrase de plusieurs mots, par exemple).",
            field=field,
        )


def _check_scope(role: Role, site_id: int | None, structure_id: int | None, territory_ids: list[int]) -> None:
    """Each role's scope: a site for an agent, a structure for an issuer, territories for a coordinator."""
    if role == Role.site_agent and site_id is None:
        raise DomainError("invalid_input", "Un agent de lieu doit être rattaché à un lieu.", field="site_id")
    if role == Role.issuer and structure_id is None:
        raise DomainError(
            "invalid_input", "Un référent doit être rattaché à une structure.", field="structure_id"
        )
    if role == Role.coordinator and not territory_ids:
        raise DomainError(
            "invalid_input", "Un coordinateur gère au moins un territoire.", field="territory_ids"
        )


class UserUpdate(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    """A new name, role or scope for an account (the e-mail and password do not change here)."""

    display_name: bounds.Name
    role: Role
    territory_ids: bounds.Ids = []
    site_id: bounds.Id | None = None
    structure_id: bounds.Id | None = None


async def update_user(actor: Actor, user_id: int, data: UserUpdate) -> User:
    """Change a person's role and scope (admins), audited; their sessions end so the new scope applies
    at once (API tokens carry no scope of their own: they read the account at each request)."""
    actor.require_role(Role.admin)
    if user_id == actor.user_id and data.role != Role.admin:
        raise DomainError("invalid_state", "Vous ne pouvez pas retirer votre propre rôle d'administrateur.")
    if not data.display_name.strip():
        raise DomainError("invalid_input", "Le nom affiché est obligatoire.", field="display_name")
    _check_scope(data.role, data.site_id, data.structure_id, data.territory_ids)
    before = await get_user(actor, user_id)
    territory_ids = sorted(set(data.territory_ids)) if data.role == Role.coordinator else []
    async with write_transaction():
        await StaffUser.update(
            {
                StaffUser.display_name: data.display_name.strip(),
                StaffUser.role: data.role,
                StaffUser.site: data.site_id if data.role == Role.site_agent else None,
                StaffUser.structure: data.structure_id if data.role == Role.issuer else None,
            }
        ).where(StaffUser.id == user_id)
        await CoordinatorTerritory.delete().where(CoordinatorTerritory.staff_user == user_id)
        if territory_ids:
            await CoordinatorTerritory.insert(
                *[CoordinatorTerritory(staff_user=user_id, territory=t) for t in territory_ids]
            )
        await StaffSession.delete().where(StaffSession.staff_user == user_id)
        after = msgspec.structs.replace(
            before,
            display_name=data.display_name.strip(),
            role=data.role,
            site_id=data.site_id if data.role == Role.site_agent else None,
            structure_id=data.structure_id if data.role == Role.issuer else None,
            territory_ids=territory_ids,
        )
        await audit.record(actor.user_id, "user.update", "staff_user", user_id, before=before, after=after)
    token_cache.accounts_changed()
    return after


async def create_user(actor: Actor, data: UserCreate) -> User:
    """Create a staff account (admins only; ``actor=None`` is the CLI's bootstrap)."""
    actor.require_role(Role.admin)
    email = normalise_email(data.email)
    check_new_password(data.password)
    _check_scope(data.role, data.site_id, data.structure_id, data.territory_ids)
    password_hash = passwords.hash_password(data.password)
    async with write_transaction():
        if await StaffUser.exists().where(StaffUser.email == email):
            raise DomainError("duplicate", "Un compte existe déjà avec cette adresse.", field="email")
        row = (
            await StaffUser.insert(
                StaffUser(
                    email=email,
                    display_name=data.display_name.strip(),
                    role=data.role,
                    password_hash=password_hash,
                    must_change_password=data.must_change_password,
                    active=True,
                    site=data.site_id if data.role == Role.site_agent else None,
                    structure=data.structure_id if data.role == Role.issuer else None,
                    created_at=utcnow(),
                )
            ).returning(StaffUser.id)
        )[0]
        territory_ids = sorted(set(data.territory_ids)) if data.role == Role.coordinator else []
        if territory_ids:
            await CoordinatorTerritory.insert(
                *[CoordinatorTerritory(staff_user=row["id"], territory=t) for t in territory_ids]
            )
        user = User(
            id=row["id"],
            email=email,
            display_name=data.display_name.strip(),
            role=data.role,
            active=True,
            site_id=data.site_id if data.role == Role.site_agent else None,
            structure_id=data.structure_id if data.role == Role.issuer else None,
            territory_ids=territory_ids,
        )
        await audit.record(actor.user_id, "user.create", "staff_user", row["id"], after=user)
    return user


async def _users(user_id: int | None = None) -> list[User]:
    """Every account, or only ``user_id``'s, with a coordinator's territories."""
    query = StaffUser.select().order_by(StaffUser.email)
    links = CoordinatorTerritory.select()
    if user_id is not None:
        query = query.where(StaffUser.id == user_id)
        links = links.where(CoordinatorTerritory.staff_user == user_id)
    by_user: dict[int, list[int]] = {}
    for link in await links:
        by_user.setdefault(link["staff_user"], []).append(link["territory"])
    return [
        User(
            id=r["id"],
            email=r["email"],
            display_name=r["display_name"],
            role=r["role"],
            active=r["active"],
            site_id=r["site"],
            structure_id=r["structure"],
            territory_ids=sorted(by_user.get(r["id"], [])),
        )
        for r in await query
    ]


async def list_users(actor: Actor) -> list[User]:
    actor.require_role(Role.admin)
    return await _users()


async def get_user(actor: Actor, user_id: int) -> User:
    """One account (admins); not_found otherwise."""
    actor.require_role(Role.admin)
    found = await _users(user_id)
    if not found:
        raise not_found("Compte")
    return found[0]


class Member(msgspec.Struct, kw_only=True):
    """A person attached to a site or a structure, as its page lists them."""

    id: int
    display_name: str
    email: str
    active: bool


async def _members(attached_to: ForeignKey, owner_id: int, role: Role) -> list[Member]:
    rows = (
        await StaffUser.select(StaffUser.id, StaffUser.display_name, StaffUser.email, StaffUser.active)
        .where((attached_to == owner_id) & (StaffUser.role == role))
        .order_by(StaffUser.display_name)
    )
    return [msgspec.convert(r, Member) for r in rows]


async def site_agents(actor: Actor, site_id: int) -> list[Member]:
    """The agent accounts of a site, deactivated ones included (admins, the coordinators of its territory)."""
    actor.require_role(*MANAGERS)
    site = await PartnerSite.select(PartnerSite.territory).where(PartnerSite.id == site_id).first()
    if site is None or not actor.sees_territory(site["territory"]):
        raise not_found("Lieu")
    return await _members(StaffUser.site, site_id, Role.site_agent)


async def structure_issuers(actor: Actor, structure_id: int) -> list[Member]:
    """The issuer accounts of a distributing structure, deactivated ones included (admins, the
    coordinators of its territory)."""
    actor.require_role(*MANAGERS)
    structure = (
        await DistributingStructure.select(DistributingStructure.territory)
        .where(DistributingStructure.id == structure_id)
        .first()
    )
    if structure is None or not actor.sees_territory(structure["territory"]):
        raise not_found("Structure")
    return await _members(StaffUser.structure, structure_id, Role.issuer)


async def set_active(actor: Actor, user_id: int, active: bool) -> None:
    """Deactivate (or reactivate) an account; deactivation revokes its tokens and ends its sessions."""
    actor.require_role(Role.admin)
    if not active and user_id == actor.user_id:
        raise DomainError("invalid_state", "Vous ne pouvez pas désactiver votre propre compte.")
    async with write_transaction():
        updated = (
            await StaffUser.update({StaffUser.active: active})
            .where(StaffUser.id == user_id)
            .returning(StaffUser.id)
        )
        if not updated:
            raise not_found("Compte")
        if not active:
            await ApiToken.update({ApiToken.revoked_at: utcnow()}).where(
                (ApiToken.staff_user == user_id) & ApiToken.revoked_at.is_null()
            )
            await StaffSession.delete().where(StaffSession.staff_user == user_id)
        await audit.record(actor.user_id, "user.set_active", "staff_user", user_id, after={"active": active})
    token_cache.accounts_changed()


def temporary_password() -> str:
    """A one-time password for an invitation or a reset: 16 random characters, easy to read out."""
    return secrets.token_urlsafe(12)


async def reset_password(actor: Actor, user_id: int) -> str:
    """An admin sets a temporary password, shown to them once; the person must change it at sign-in.

    Their sessions end; their API tokens stay but are refused everything (``password_change_required``)
    until the temporary password is changed, which revokes them. Audited, never the password.
    """
    actor.require_role(Role.admin)
    password = temporary_password()
    new_hash = passwords.hash_password(password)
    async with write_transaction():
        updated = (
            await StaffUser.update({StaffUser.password_hash: new_hash, StaffUser.must_change_password: True})
            .where(StaffUser.id == user_id)
            .returning(StaffUser.id)
        )
        if not updated:
            raise not_found("Compte")
        await StaffSession.delete().where(StaffSession.staff_user == user_id)
        await audit.record(actor.user_id, "user.reset_password", "staff_user", user_id)
    token_cache.accounts_changed()  # their tokens refuse everything until the password is changed
    return password
