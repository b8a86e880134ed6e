"""Sign-in: e-mail and argon2 password checked with a limit on failures, bearer tokens for the
API (created, listed, revoked, authenticated on every request), password changes.

Account administration is in ``users``; browser sessions for the pages in ``sessions``.
"""

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
from pass_numerique.domain.tables import ApiToken, CoordinatorTerritory, LoginFailure, StaffUser
from pass_numerique.security import passwords, token_cache

TOKEN_PREFIX = "pn_"  # noqa: S105 - a public marker, not a secret


LOGIN_TOKEN_DAYS = 30


# Password guessing: after this many failures for one e-mail within the window, sign-in is refused.
MAX_LOGIN_FAILURES = 5


LOGIN_FAILURE_WINDOW = timedelta(minutes=15)


# Writing last_used_at on every request would put a write on the redemption hot path.
LAST_USED_RESOLUTION = timedelta(minutes=5)


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


async def scanner_token(actor: Actor) -> IssuedToken:
    """The phone scanner's bearer token (30 days), for a site agent already signed in on the
    staff pages: one sign-in gives both (web/scanner.py trades the session for it)."""
    actor.require_role(Role.site_agent)
    return await create_token(actor, "scanner", expires_in=timedelta(days=LOGIN_TOKEN_DAYS))


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


async def must_change_password(user_id: int) -> bool:
    """Whether the person signed in with a temporary password they must replace first."""
    row = await StaffUser.select(StaffUser.must_change_password).where(StaffUser.id == user_id).first()
    return bool(row and row["must_change_password"])
