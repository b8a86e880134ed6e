"""Hear about changes to accounts, tokens and scopes made by other server processes (PostgreSQL).

Triggers of migration m0030 send ``NOTIFY pn_auth_changed`` when a transaction that changed
what authentication reads commits. Each server worker keeps one connection LISTENing, outside
the pool, and tells the token cache (``security/token_cache.py``) three things: a change came in,
the listener is connected, or the listener was lost. When the connection drops, is refused, or
stops answering the periodic check, the cache is switched off until the listener reconnects.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager

import asyncpg

CHANNEL = "pn_auth_changed"
_log = logging.getLogger("pass_numerique")


@asynccontextmanager
async def listening(
    config: dict[str, object],
    *,
    on_change: Callable[[], None],
    on_connected: Callable[[bool], None],
    check_seconds: float,
    first_wait_seconds: float = 5.0,
) -> AsyncIterator[None]:
    """LISTEN on ``CHANNEL`` while the block runs, reconnecting after any failure.

    ``check_seconds``: how often a silent connection is asked ``SELECT 1``. A network that
    drops packets without closing the connection is noticed within that time, so keep it at
    most the cache's lifetime. On entering, waits up to ``first_wait_seconds`` for the
    first connection, so the server starts with its cache on.
    """
    connected = asyncio.Event()

    def set_connected(value: bool) -> None:
        on_connected(value)
        if value:
            connected.set()

    task = asyncio.create_task(_keep_listening(config, on_change, set_connected, check_seconds))
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(connected.wait(), first_wait_seconds)
    try:
        yield
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        on_connected(False)


async def _keep_listening(
    config: dict[str, object],
    on_change: Callable[[], None],
    on_connected: Callable[[bool], None],
    check_seconds: float,
) -> None:
    delay = 1.0
    while True:
        try:
            await _listen_once(config, on_change, on_connected, check_seconds)
            delay = 1.0
        except (OSError, TimeoutError, asyncpg.PostgresError, asyncpg.InterfaceError) as exc:
            _log.warning("auth change listener lost (%s); bearer tokens read at every request", exc)
        finally:
            on_connected(False)
        await asyncio.sleep(delay)
        delay = min(delay * 2, 30.0)


async def _listen_once(
    config: dict[str, object],
    on_change: Callable[[], None],
    on_connected: Callable[[bool], None],
    check_seconds: float,
) -> None:
    """One connection's life: LISTEN, then wait until it is closed or stops answering."""
    connection = await asyncpg.connect(**config, timeout=10)
    try:
        lost = asyncio.Event()
        connection.add_termination_listener(lambda _: lost.set())
        await connection.add_listener(CHANNEL, lambda *_: on_change())
        on_connected(True)
        while not lost.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(lost.wait(), check_seconds)
            if not lost.is_set():
                await connection.fetchval("SELECT 1", timeout=min(5.0, check_seconds))
    finally:
        if not connection.is_closed():
            connection.terminate()
