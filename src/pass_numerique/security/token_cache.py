"""Bearer tokens recently seen by this server process, and the actor each one authenticated.

The cache holds whatever the caller gives it (domain/accounts/authentication.py gives it an
``Actor``): it knows nothing of the domain, so infrastructure stays below the domain.

Every API request is authenticated. Reading the token and its account costs a round trip
to the database, a fifth of the work of a redemption. A cached actor is used until the first of:

- ``PN_TOKEN_CACHE_SECONDS`` (30 s by default; 0 turns the cache off) after it was read;
- the token's own expiry;
- a change to an account, a token, a coordinator's territories or the territory of a site
  or a structure. The process that makes the change forgets its whole cache as soon as the
  change commits. PostgreSQL triggers (migration m0030) NOTIFY every other process, whose
  listener (``db/auth_changes.py``) forgets theirs within milliseconds.

The cache only answers while that listener is connected. A notification lost while it was
down therefore cannot keep a revoked token alive: the cache is emptied when the listener
reconnects. On SQLite, which has no notifications, every request reads the database.
Unknown or refused tokens are never cached.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any, Generic, NamedTuple, TypeVar

from pass_numerique.settings import get_settings

MAX_ENTRIES = 10_000
"""More than any département has tokens in use at once; past it, the oldest entry goes."""


V = TypeVar("V")


class _Entry(NamedTuple, Generic[V]):
    value: V
    until: datetime


class TokenCache(Generic[V]):
    """Values (the actor) by token hash, valid until a deadline, emptied on any change to accounts."""

    def __init__(self) -> None:
        self._entries: dict[str, _Entry[V]] = {}
        self._generation = 0
        self._listening = False

    @property
    def generation(self) -> int:
        """Read before a database look-up, handed back to ``remember``: a look-up that a change
        overtook (it read the row before the change committed) is not remembered."""
        return self._generation

    @property
    def active(self) -> bool:
        return self._listening and get_settings().token_cache_seconds > 0

    def lookup(self, key: str, now: datetime) -> V | None:
        """The cached value of a token hash, or None (not cached, stale, or the cache is off)."""
        if not self._listening:
            return None
        entry = self._entries.get(key)
        if entry is None:
            return None
        if now >= entry.until:
            del self._entries[key]
            return None
        return entry.value

    def remember(
        self, key: str, value: V, *, read_at: datetime, expires_at: datetime | None, generation: int
    ) -> None:
        """Keep a value just read from the database (``generation`` as read before the look-up)."""
        if not self.active or generation != self._generation:
            return
        until = read_at + timedelta(seconds=get_settings().token_cache_seconds)
        if expires_at is not None:
            until = min(until, expires_at)
        if key not in self._entries and len(self._entries) >= MAX_ENTRIES:
            del self._entries[next(iter(self._entries))]
        self._entries[key] = _Entry(value, until)

    def forget_all(self) -> None:
        """Something that authentication depends on changed: drop every entry."""
        self._generation += 1
        self._entries.clear()

    def set_listening(self, listening: bool) -> None:
        """The change listener connected or lost its connection; either way start from empty."""
        self._listening = listening
        self.forget_all()

    def __len__(self) -> int:
        return len(self._entries)


CACHE: TokenCache[Any] = TokenCache()
"""This process's cache (one per server worker) of the actors of bearer tokens."""


def accounts_changed() -> None:
    """Call after committing a change to accounts, tokens or scopes: this process forgets at once
    (the other processes hear of it from the database's notification)."""
    CACHE.forget_all()
