"""Sign-in: e-mail and argon2 password checked with limits on failures, bearer tokens for the
API (created, listed, revoked, authenticated on every request), password changes.

Failed sign-ins are limited per client address and per account (``PN_LOGIN_WINDOW_SECONDS``,
``PN_MAX_LOGIN_FAILURES_PER_CLIENT``, ``…_PER_ACCOUNT``). An account's limit holds back only the
clients that have failed on it: someone who knows an address cannot lock its owner out, and each
new address an attacker uses gets one guess once the account is over its limit. Only keyed hashes
of e-mails and client addresses are stored.

Account administration and the password policy are in ``users``; browser sessions for the pages
in ``sessions``.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from datetime import datetime, timedelta

import msgspec

from pass_numerique.db.transaction import write_transaction
from pass_numerique.domain import attempt_limits, audit
from pass_numerique.domain.accounts.users import check_new_password
from pass_numerique.domain.actors import Actor, Role
from pass_numerique.domain.clock import utcnow
from pass_numerique.domain.errors import DomainError, not_found
from pass_numerique.domain.tables import ApiToken, CoordinatorTerritory, LoginFailure, StaffSession, StaffUser
from pass_numerique.security import passwords, token_cache
from pass_numerique.settings import get_settings

TOKEN_PREFIX = "pn_"  # noqa: S105 - a public marker, not a secret


LOGIN_TOKEN_DAYS = 30


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
    StaffUser.must_change_password,
    StaffUser.site.territory.as_alias("site_territory"),
    StaffUser.structure.territory.as_alias("structure_territory"),
)


# Authentication runs on every API request: one statement, written out once. Built through
# Piccolo's joins it cost more CPU than the redemption it guards (about 40 % of a request).
_BEARER_LOOKUP = """
SELECT t.id, t.created_at, t.expires_at, t.revoked_at, t.last_used_at,
       u.id AS user_id, u.email, u.display_name, u.role, u.active, u.site, u.structure,
       u.must_change_password,
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
        must_change_password=bool(user["must_change_password"]),
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


def client_hash(address: str) -> str:
    """Keyed hash of a client address (HMAC-SHA256 with the secret key): failures from one client
    can be counted, and the database holds no address that could be read back."""
    key = hashlib.sha256(b"client-address:" + get_settings().secret_key.encode()).digest()
    return hmac.new(key, address.encode(), "sha256").hexdigest()


async def _check_login_limits(email_hash: str, client: str, now: datetime) -> None:
    """Refuse with ``too_many_attempts`` a client past its own limit, or one that has failed on an
    account past the account's limit; a client that has not failed on the account goes through."""
    settings = get_settings()
    window = timedelta(seconds=settings.login_window_seconds)
    wait = await attempt_limits.seconds_to_wait(
        LoginFailure.at,
        LoginFailure.client_hash == client,
        limit=settings.max_login_failures_per_client,
        window=window,
        now=now,
    )
    if wait is None and await LoginFailure.exists().where(
        (LoginFailure.email_hash == email_hash)
        & (LoginFailure.client_hash == client)
        & (LoginFailure.at > now - window)
    ):
        wait = await attempt_limits.seconds_to_wait(
            LoginFailure.at,
            LoginFailure.email_hash == email_hash,
            limit=settings.max_login_failures_per_account,
            window=window,
            now=now,
        )
    if wait is not None:
        raise attempt_limits.too_many_attempts(wait)


async def verify_credentials(
    email: str, password: str, *, client_address: str = "", now: datetime | None = None
) -> Actor:
    """The actor for a correct e-mail and password, else ``invalid_credentials``.

    ``client_address`` is the caller's address (the proxy's client, see docs/security.md). Past
    the limits on failures (per client, and per account for the clients that failed on it),
    every attempt of that client, even a correct one, is refused with ``too_many_attempts``.
    """
    now = now or utcnow()
    email = email.strip().lower()
    email_hash = _email_hash(email)
    client = client_hash(client_address)
    await _check_login_limits(email_hash, client, now)
    user = await StaffUser.select(*_USER_WITH_SCOPE).where(StaffUser.email == email).first()
    if user is None:
        passwords.verify_password(passwords.dummy_hash(), password)
    if user is None or not passwords.verify_password(user["password_hash"], password) or not user["active"]:
        await LoginFailure.insert(LoginFailure(email_hash=email_hash, client_hash=client, at=now))
        raise DomainError("invalid_credentials")
    async with write_transaction():
        changes: dict = {StaffUser.last_login_at: now}
        if passwords.needs_rehash(user["password_hash"]):
            changes[StaffUser.password_hash] = passwords.hash_password(password)
        await StaffUser.update(changes).where(StaffUser.id == user["id"])
        # This client's own typos are forgiven; an attacker's failures from elsewhere still count.
        await LoginFailure.delete().where(
            (LoginFailure.email_hash == email_hash) & (LoginFailure.client_hash == client)
        )
    return await _scope_of(user)


async def login(email: str, password: str, *, client_address: str = "") -> tuple[Actor, IssuedToken]:
    """Check credentials and issue a bearer token valid for 30 days."""
    actor = await verify_credentials(email, password, client_address=client_address)
    token = await create_token(actor, "connexion", expires_in=timedelta(days=LOGIN_TOKEN_DAYS))
    return actor, token


async def scanner_token(actor: Actor) -> IssuedToken:
    """The phone scanner's bearer token (30 days), for a site agent already signed in on the
    staff pages: one sign-in gives both (web/scanner.py trades the session for it)."""
    actor.require_role(Role.site_agent)
    return await create_token(actor, "scanner", expires_in=timedelta(days=LOGIN_TOKEN_DAYS))


async def create_token(actor: Actor, label: str, expires_in: timedelta | None = None) -> IssuedToken:
    """A new bearer token for the actor themself, expiring after ``expires_in`` (default
    ``PN_TOKEN_DEFAULT_DAYS``; longer than ``PN_TOKEN_MAX_DAYS`` is refused)."""
    settings = get_settings()
    if expires_in is None:
        expires_in = timedelta(days=settings.token_default_days)
    if not timedelta(0) < expires_in <= timedelta(days=settings.token_max_days):
        raise DomainError(
            "invalid_input",
            f"Un jeton expire au plus tard {settings.token_max_days} jours après sa création.",
            field="expires_in_days",
        )
    raw = TOKEN_PREFIX + secrets.token_urlsafe(32)
    now = utcnow()
    expires_at = now + expires_in
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


async def revoke_current_token(actor: Actor, raw: str) -> None:
    """Sign out of the API: revoke the token making the request."""
    row = (
        await ApiToken.select(ApiToken.id)
        .where((ApiToken.token_hash == token_hash(raw)) & (ApiToken.staff_user == actor.user_id))
        .first()
    )
    if row is None:
        raise not_found("Jeton")
    await revoke_token(actor, row["id"])


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
    # Tokens created before every token had an expiry live PN_TOKEN_MAX_DAYS at most.
    expires_at = row["expires_at"] or row["created_at"] + timedelta(days=get_settings().token_max_days)
    if expires_at <= now:
        return None
    # Read again at least every PN_TOKEN_CACHE_SECONDS, so last_used_at keeps its resolution.
    if row["last_used_at"] is None or now - row["last_used_at"] > LAST_USED_RESOLUTION:
        await ApiToken.update({ApiToken.last_used_at: now}).where(ApiToken.id == row["id"])
    row["id"] = row.pop("user_id")
    actor = await _scope_of(row)
    token_cache.CACHE.remember(key, actor, read_at=now, expires_at=expires_at, generation=generation)
    return actor


async def change_password(
    actor: Actor,
    old_password: str,
    new_password: str,
    *,
    keep_session: str | None = None,
    keep_token: str | None = None,
) -> None:
    """The actor changes their own password: the old one is checked, the new one meets the policy
    and is argon2-hashed; every bearer token and browser session of the account ends but the one
    making the change (``keep_token`` or ``keep_session``, the raw values). Audited."""
    user = await StaffUser.select(StaffUser.password_hash).where(StaffUser.id == actor.user_id).first()
    if user is None or not passwords.verify_password(user["password_hash"], old_password):
        raise DomainError("invalid_input", "Mot de passe actuel incorrect.", field="old_password")
    check_new_password(new_password, field="new_password")
    if new_password == old_password:
        raise DomainError(
            "invalid_input", "Le nouveau mot de passe doit différer de l'actuel.", field="new_password"
        )
    new_hash = passwords.hash_password(new_password)
    now = utcnow()
    async with write_transaction():
        await StaffUser.update(
            {StaffUser.password_hash: new_hash, StaffUser.must_change_password: False}
        ).where(StaffUser.id == actor.user_id)
        tokens = ApiToken.update({ApiToken.revoked_at: now}).where(
            (ApiToken.staff_user == actor.user_id) & ApiToken.revoked_at.is_null()
        )
        if keep_token:
            tokens = tokens.where(ApiToken.token_hash != token_hash(keep_token))
        revoked = await tokens.returning(ApiToken.id)
        browser_sessions = StaffSession.delete().where(StaffSession.staff_user == actor.user_id)
        if keep_session:
            # Sessions are stored as the SHA-256 of their cookie, as tokens are (sessions.py).
            browser_sessions = browser_sessions.where(StaffSession.session_hash != token_hash(keep_session))
        ended = await browser_sessions.returning(StaffSession.id)
        await audit.record(
            actor.user_id,
            "user.change_password",
            "staff_user",
            actor.user_id,
            at=now,
            after={"tokens_revoked": len(revoked), "sessions_ended": len(ended)},
        )
    token_cache.accounts_changed()


async def must_change_password(user_id: int) -> bool:
    """Whether the person signed in with a temporary password they must replace first."""
    row = await StaffUser.select(StaffUser.must_change_password).where(StaffUser.id == user_id).first()
    return bool(row and row["must_change_password"])
