"""Staff accounts: creation, login, bearer tokens and the actor they authenticate."""

from __future__ import annotations

import hashlib
import secrets
from datetime import datetime, timedelta

import msgspec

from pass_numerique.db.transaction import write_transaction
from pass_numerique.domain import audit
from pass_numerique.domain.actors import Actor, Role
from pass_numerique.domain.clock import utcnow
from pass_numerique.domain.errors import DomainError, not_found
from pass_numerique.domain.tables import ApiToken, CoordinatorTerritory, LoginFailure, StaffSession, StaffUser
from pass_numerique.security import passwords, token_cache

TOKEN_PREFIX = "pn_"  # noqa: S105 - a public marker, not a secret
LOGIN_TOKEN_DAYS = 30
# Password guessing: after this many failures for one e-mail within the window, sign-in is refused.
MAX_LOGIN_FAILURES = 5
LOGIN_FAILURE_WINDOW = timedelta(minutes=15)
# Writing last_used_at on every request would put a write on the redemption hot path.
LAST_USED_RESOLUTION = timedelta(minutes=5)


class UserCreate(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    """A new staff account. The scope field required depends on the role."""

    email: str
    display_name: str
    role: Role
    password: str
    territory_ids: list[int] = []
    site_id: int | None = None
    structure_id: int | None = None
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


class IssuedToken(msgspec.Struct, kw_only=True):
    """A bearer token, shown once: only its hash is kept."""

    id: int
    token: str
    label: str
    expires_at: datetime | None


class TokenInfo(msgspec.Struct, kw_only=True):
    id: int
    label: str
    prefix: str
    created_at: datetime
    expires_at: datetime | None
    last_used_at: datetime | None
    revoked_at: datetime | None


def _normalise_email(email: str) -> str:
    email = email.strip().lower()
    if "@" not in email or len(email) > 254:
        raise DomainError("invalid_input", "Adresse e-mail invalide.", field="email")
    return email


def _check_password(password: str) -> None:
    if len(password) < passwords.MIN_LENGTH:
        raise DomainError(
            "invalid_input",
            f"Le mot de passe doit contenir au moins {passwords.MIN_LENGTH} caractères.",
            field="password",
        )


def token_hash(token: str) -> str:
    # Tokens carry 256 random bits: a fast hash is enough, argon2 would slow every request.
    return hashlib.sha256(token.encode()).hexdigest()


# One joined query gives a user with the territory of their site or structure:
# authentication runs on every API request, so it must not cost several round trips.
_USER_WITH_SCOPE = (
    StaffUser.id,
    StaffUser.email,
    StaffUser.display_name,
    StaffUser.role,
    StaffUser.active,
    StaffUser.password_hash,
    StaffUser.site,
    StaffUser.structure,
    StaffUser.site.territory.as_alias("site_territory"),
    StaffUser.structure.territory.as_alias("structure_territory"),
)


# Authentication runs on every API request: one statement, written out once. Built through
# Piccolo's joins it cost more CPU than the redemption it guards (about 40 % of a request).
_BEARER_LOOKUP = """
SELECT t.id, t.expires_at, t.revoked_at, t.last_used_at,
       u.id AS user_id, u.email, u.display_name, u.role, u.active, u.site, u.structure,
       s.territory AS site_territory, d.territory AS structure_territory
FROM api_token t
JOIN staff_user u ON u.id = t.staff_user
LEFT JOIN partner_site s ON s.id = u.site
LEFT JOIN distributing_structure d ON d.id = u.structure
WHERE t.token_hash = {}
"""


async def _scope_of(user: dict) -> Actor:
    """The actor of a row selected with ``_USER_WITH_SCOPE``."""
    role = Role(user["role"])
    territories: set[int] = set()
    if role == Role.coordinator:
        rows = await CoordinatorTerritory.select(CoordinatorTerritory.territory).where(
            CoordinatorTerritory.staff_user == user["id"]
        )
        territories = {r["territory"] for r in rows}
    elif role == Role.issuer and user["structure_territory"] is not None:
        territories = {user["structure_territory"]}
    elif role == Role.site_agent and user["site_territory"] is not None:
        territories = {user["site_territory"]}
    return Actor(
        user_id=user["id"],
        email=user["email"],
        display_name=user["display_name"],
        role=role,
        territory_ids=frozenset(territories),
        site_id=user["site"],
        structure_id=user["structure"],
    )


async def actor_for_user(user_id: int) -> Actor | None:
    """The actor of an active user, or None."""
    user = (
        await StaffUser.select(*_USER_WITH_SCOPE)
        .where((StaffUser.id == user_id) & (StaffUser.active.eq(True)))
        .first()
    )
    return await _scope_of(user) if user else None


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

    display_name: str
    role: Role
    territory_ids: list[int] = []
    site_id: int | None = None
    structure_id: int | None = None


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
    email = _normalise_email(data.email)
    _check_password(data.password)
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


def _email_hash(email: str) -> str:
    # Hashed: people sometimes type a password into the e-mail field.
    return hashlib.sha256(email.encode()).hexdigest()


async def verify_credentials(email: str, password: str, *, now: datetime | None = None) -> Actor:
    """The actor for a correct e-mail and password, else ``invalid_credentials``.

    After ``MAX_LOGIN_FAILURES`` failures for one e-mail within ``LOGIN_FAILURE_WINDOW``,
    every attempt, even a correct one, is refused with ``too_many_attempts``.
    """
    now = now or utcnow()
    email = email.strip().lower()
    email_hash = _email_hash(email)
    recent = await LoginFailure.count().where(
        (LoginFailure.email_hash == email_hash) & (LoginFailure.at > now - LOGIN_FAILURE_WINDOW)
    )
    if recent >= MAX_LOGIN_FAILURES:
        raise DomainError("too_many_attempts")
    user = await StaffUser.select(*_USER_WITH_SCOPE).where(StaffUser.email == email).first()
    if user is None:
        passwords.verify_password(passwords.dummy_hash(), password)
    if user is None or not passwords.verify_password(user["password_hash"], password) or not user["active"]:
        await LoginFailure.insert(LoginFailure(email_hash=email_hash, at=now))
        raise DomainError("invalid_credentials")
    async with write_transaction():
        changes: dict = {StaffUser.last_login_at: now}
        if passwords.needs_rehash(user["password_hash"]):
            changes[StaffUser.password_hash] = passwords.hash_password(password)
        await StaffUser.update(changes).where(StaffUser.id == user["id"])
        await LoginFailure.delete().where(LoginFailure.email_hash == email_hash)
    return await _scope_of(user)


async def login(email: str, password: str) -> tuple[Actor, IssuedToken]:
    """Check credentials and issue a bearer token valid for 30 days."""
    actor = await verify_credentials(email, password)
    token = await create_token(actor, "connexion", expires_in=timedelta(days=LOGIN_TOKEN_DAYS))
    return actor, token


async def create_token(actor: Actor, label: str, expires_in: timedelta | None = None) -> IssuedToken:
    """A new bearer token for the actor themself."""
    raw = TOKEN_PREFIX + secrets.token_urlsafe(32)
    now = utcnow()
    expires_at = now + expires_in if expires_in else None
    async with write_transaction():
        row = (
            await ApiToken.insert(
                ApiToken(
                    staff_user=actor.user_id,
                    label=label[:100] or "jeton",
                    token_hash=token_hash(raw),
                    prefix=raw[:10],
                    created_at=now,
                    expires_at=expires_at,
                )
            ).returning(ApiToken.id)
        )[0]
        await audit.record(actor.user_id, "token.create", "api_token", row["id"], after={"label": label})
    return IssuedToken(id=row["id"], token=raw, label=label, expires_at=expires_at)


async def list_tokens(actor: Actor) -> list[TokenInfo]:
    rows = await ApiToken.select().where(ApiToken.staff_user == actor.user_id).order_by(ApiToken.id)
    return msgspec.convert(rows, list[TokenInfo])


async def revoke_token(actor: Actor, token_id: int) -> None:
    """Revoke one of the actor's own tokens (admins: anyone's)."""
    async with write_transaction():
        query = ApiToken.update({ApiToken.revoked_at: utcnow()}).where(
            (ApiToken.id == token_id) & ApiToken.revoked_at.is_null()
        )
        if not actor.is_admin:
            query = query.where(ApiToken.staff_user == actor.user_id)
        if not await query.returning(ApiToken.id):
            raise not_found("Jeton")
        await audit.record(actor.user_id, "token.revoke", "api_token", token_id)
    token_cache.accounts_changed()


async def authenticate_token(raw: str) -> Actor | None:
    """The actor behind a bearer token, or None if unknown, revoked, expired or inactive."""
    if not raw.startswith(TOKEN_PREFIX) or len(raw) > 100:
        return None
    key = token_hash(raw)
    now = utcnow()
    if (cached := token_cache.CACHE.lookup(key, now)) is not None:
        return cached
    generation = token_cache.CACHE.generation
    rows = await ApiToken.raw(_BEARER_LOOKUP, key)
    row = rows[0] if rows else None
    if row is None or row["revoked_at"] is not None or not row["active"]:
        return None
    if row["expires_at"] is not None and row["expires_at"] <= now:
        return None
    # Read again at least every PN_TOKEN_CACHE_SECONDS, so last_used_at keeps its resolution.
    if row["last_used_at"] is None or now - row["last_used_at"] > LAST_USED_RESOLUTION:
        await ApiToken.update({ApiToken.last_used_at: now}).where(ApiToken.id == row["id"])
    row["id"] = row.pop("user_id")
    actor = await _scope_of(row)
    token_cache.CACHE.remember(key, actor, read_at=now, expires_at=row["expires_at"], generation=generation)
    return actor


async def change_password(actor: Actor, old_password: str, new_password: str) -> None:
    """The actor changes their own password: the old one is checked, the new one argon2-hashed, audited."""
    user = await StaffUser.select(StaffUser.password_hash).where(StaffUser.id == actor.user_id).first()
    if user is None or not passwords.verify_password(user["password_hash"], old_password):
        raise DomainError("invalid_input", "Mot de passe actuel incorrect.", field="old_password")
    if len(new_password) < passwords.MIN_LENGTH:
        raise DomainError(
            "invalid_input",
            f"Le mot de passe doit contenir au moins {passwords.MIN_LENGTH} caractères.",
            field="new_password",
        )
    if new_password == old_password:
        raise DomainError(
            "invalid_input", "Le nouveau mot de passe doit différer de l'actuel.", field="new_password"
        )
    new_hash = passwords.hash_password(new_password)
    async with write_transaction():
        await StaffUser.update(
            {StaffUser.password_hash: new_hash, StaffUser.must_change_password: False}
        ).where(StaffUser.id == actor.user_id)
        await audit.record(actor.user_id, "user.change_password", "staff_user", actor.user_id)


def temporary_password() -> str:
    """A one-time password for an invitation or a reset: 16 random characters, easy to read out."""
    return secrets.token_urlsafe(12)


async def reset_password(actor: Actor, user_id: int) -> str:
    """An admin sets a temporary password, shown to them once; the person must change it at sign-in.

    Their sessions end and their API tokens stay (a phone scanner keeps working). Audited, never the password.
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
    return password


async def must_change_password(user_id: int) -> bool:
    """Whether the person signed in with a temporary password they must replace first."""
    row = await StaffUser.select(StaffUser.must_change_password).where(StaffUser.id == user_id).first()
    return bool(row and row["must_change_password"])
