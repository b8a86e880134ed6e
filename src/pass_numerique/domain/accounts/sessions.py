"""Browser sessions of the staff pages, kept in the database.

The cookie holds 256 random bits; only their SHA-256 is stored, so a copy of the
database cannot be replayed as a cookie. A session ends after ``IDLE`` without a
request, after ``MAX_AGE`` whatever the activity, at logout, when the password
changes (the others: ``authentication.change_password``) and when the account is
deactivated (checked on every request).
Every worker reads the same table: no session is lost with several workers or a restart.
"""

from __future__ import annotations

import secrets
from datetime import datetime, timedelta

from pass_numerique.db.transaction import write_transaction
from pass_numerique.domain import audit
from pass_numerique.domain.accounts import authentication
from pass_numerique.domain.actors import Actor
from pass_numerique.domain.clock import utcnow
from pass_numerique.domain.tables import StaffSession

COOKIE_NAME = "pn_session"
IDLE = timedelta(hours=8)
MAX_AGE = timedelta(days=7)
# Writing last_seen_at on every page view is not needed: idle expiry is this coarse.
TOUCH_RESOLUTION = timedelta(minutes=1)


def _hash(raw: str) -> str:
    # The same hash as bearer tokens: a password change ends both but the current one (authentication).
    return authentication.token_hash(raw)


async def open_session(actor: Actor, *, now: datetime | None = None) -> str:
    """A new session for the actor; returns the cookie value (shown once, never stored)."""
    now = now or utcnow()
    raw = secrets.token_urlsafe(32)
    async with write_transaction():
        # Housekeeping: expired sessions of anyone go at each login.
        await StaffSession.delete().where(
            (StaffSession.expires_at <= now) | (StaffSession.last_seen_at <= now - IDLE)
        )
        await StaffSession.insert(
            StaffSession(
                staff_user=actor.user_id,
                session_hash=_hash(raw),
                created_at=now,
                last_seen_at=now,
                expires_at=now + MAX_AGE,
            )
        )
        await audit.record(actor.user_id, "session.open", "staff_user", actor.user_id, at=now)
    return raw


async def authenticate_session(raw: str, *, now: datetime | None = None) -> Actor | None:
    """The actor of a live session cookie, or None (unknown, idle, too old or inactive account)."""
    if not raw or len(raw) > 100:
        return None
    now = now or utcnow()
    row = (
        await StaffSession.select(
            StaffSession.id, StaffSession.staff_user, StaffSession.last_seen_at, StaffSession.expires_at
        )
        .where(StaffSession.session_hash == _hash(raw))
        .first()
    )
    if row is None or row["expires_at"] <= now or row["last_seen_at"] <= now - IDLE:
        return None
    actor = await authentication.actor_for_user(row["staff_user"])
    if actor is None:
        return None
    if now - row["last_seen_at"] > TOUCH_RESOLUTION:
        await StaffSession.update({StaffSession.last_seen_at: now}).where(StaffSession.id == row["id"])
    return actor


async def close_session(raw: str) -> None:
    """Logout: the session is deleted, the cookie is worthless from now on."""
    async with write_transaction():
        deleted = (
            await StaffSession.delete()
            .where(StaffSession.session_hash == _hash(raw))
            .returning(StaffSession.staff_user)
        )
        if deleted:
            user_id = deleted[0]["staff_user"]
            await audit.record(user_id, "session.close", "staff_user", user_id)
