"""Transactions on either engine: writes, one-snapshot reads, and reads side by side in that snapshot."""

from __future__ import annotations

import asyncio
import re
import weakref
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from functools import cache
from typing import Any

from piccolo.engine.base import Engine
from piccolo.engine.finder import engine_finder
from piccolo.engine.sqlite import SQLiteEngine, TransactionType

from pass_numerique.settings import get_settings


@cache
def engine() -> Engine:
    """The configured Piccolo engine, found once: ``engine_finder`` imports the configuration
    anew at each call, some 20 µs, twice per redemption."""
    db = engine_finder()
    assert db is not None, "PICCOLO_CONF did not provide an engine"
    return db


def is_sqlite() -> bool:
    return isinstance(engine(), SQLiteEngine)


_WRITER_LOCKS: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, asyncio.Lock] = (
    weakref.WeakKeyDictionary()
)


def _sqlite_writer_lock() -> asyncio.Lock:
    """One lock per event loop (an asyncio lock belongs to the loop it was first used in)."""
    loop = asyncio.get_running_loop()
    lock = _WRITER_LOCKS.get(loop)
    if lock is None:
        lock = _WRITER_LOCKS[loop] = asyncio.Lock()
    return lock


@asynccontextmanager
async def write_transaction() -> AsyncIterator[None]:
    """Commit on exit, roll back on exception.

    SQLite write transactions must take the write lock up front (IMMEDIATE):
    two deferred transactions that both upgrade to writing deadlock into
    "database is locked". PostgreSQL's ``transaction()`` takes no such argument.
    """
    db = engine()
    if isinstance(db, SQLiteEngine):
        if db.current_transaction.get() is not None:  # nested: the outer one holds the lock
            async with db.transaction(transaction_type=TransactionType.immediate):
                yield
            return
        # Writers of this process queue on an asyncio lock instead of SQLite's busy handler,
        # whose sleeps and retries served them unfairly (p99 in seconds under load).
        async with _sqlite_writer_lock(), db.transaction(transaction_type=TransactionType.immediate):
            yield
    else:
        async with db.transaction():
            yield


@asynccontextmanager
async def read_snapshot() -> AsyncIterator[None]:
    """A read-only transaction whose statements all see one snapshot of the database.

    A report reads rollups and the rows not folded yet in several statements: without one
    snapshot a fold committing in between would count some redemptions twice or not at all.
    """
    db = engine()
    if isinstance(db, SQLiteEngine):
        if db.current_transaction.get() is not None:
            yield
            return
        # In WAL mode a deferred transaction reads one snapshot from its first read to its end.
        async with db.transaction(transaction_type=TransactionType.deferred):
            yield
    else:
        async with _postgres_read_transaction(db, snapshot=None):
            yield


@asynccontextmanager
async def _postgres_read_transaction(db: Engine, snapshot: str | None) -> AsyncIterator[None]:
    async with db.transaction():
        await db.run_ddl("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
        if snapshot is not None:
            await db.run_ddl(f"SET TRANSACTION SNAPSHOT '{snapshot}'")
        # Report statements are planned as costly: JIT compilation took longer than running them.
        await db.run_ddl("SET LOCAL jit = off")
        # Prepared statements switch to a generic plan after five runs; planned without the
        # values, the per-site page's read of fifty sites walked the whole period's index.
        await db.run_ddl("SET LOCAL plan_cache_mode = force_custom_plan")
        yield


_SNAPSHOT_ID = re.compile(r"[0-9A-F]+-[0-9A-F]+-[0-9]+")
_extra_connections_in_use = 0
"""Connections this process lends to reads side by side at this moment."""


def _extra_connections_budget() -> int:
    # At most half the pool: the other half always serves requests (and the enclosing read
    # transactions, which never wait for a connection while holding one).
    pool = get_settings().db_pool_size
    return pool // 2 if pool else 8


async def side_by_side(*reads: Callable[[], Awaitable[Any]]) -> list[Any]:
    """Run independent reads of one ``read_snapshot`` at the same time; their results in order.

    On PostgreSQL each read gets its own connection and transaction, importing the enclosing
    snapshot (``pg_export_snapshot``), so the reads see exactly what the enclosing transaction
    sees and their figures agree. When the pool has no connections to spare (half of it at most
    goes to such reads), and on SQLite, which has one connection per transaction, the reads run
    one after the other in the enclosing transaction: a read never waits for a connection while
    its transaction holds one, so a busy pool cannot deadlock.
    """
    global _extra_connections_in_use
    db = engine()
    spare = _extra_connections_budget() - _extra_connections_in_use
    if isinstance(db, SQLiteEngine) or db.current_transaction.get() is None or spare < len(reads):
        return [await read() for read in reads]
    _extra_connections_in_use += len(reads)
    try:
        return await _each_in_the_snapshot(db, reads)
    finally:
        _extra_connections_in_use -= len(reads)


async def _each_in_the_snapshot(db: Engine, reads: tuple[Callable[[], Awaitable[Any]], ...]) -> list[Any]:
    rows = await db.run_ddl("SELECT pg_export_snapshot() AS id")
    snapshot = rows[0]["id"]
    if not _SNAPSHOT_ID.fullmatch(snapshot):  # it is written into the SET statement below
        raise RuntimeError(f"unexpected snapshot id {snapshot!r}")

    async def alone(read: Callable[[], Awaitable[Any]]) -> Any:
        db.current_transaction.set(None)  # this task's context only: a transaction of its own
        async with _postgres_read_transaction(db, snapshot):
            return await read()

    try:
        async with asyncio.TaskGroup() as group:
            tasks = [group.create_task(alone(read)) for read in reads]
    except BaseExceptionGroup as failed:
        # The others were cancelled: raise the first failure as the reads alone would have.
        raise failed.exceptions[0] from None
    return [task.result() for task in tasks]
