"""One helper to open a write transaction on either engine."""

from __future__ import annotations

import asyncio
import weakref
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from piccolo.engine.base import Engine
from piccolo.engine.finder import engine_finder
from piccolo.engine.sqlite import SQLiteEngine, TransactionType


def engine() -> Engine:
    """The configured Piccolo engine."""
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
        async with db.transaction():
            await db.run_ddl("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
            # Report statements are planned as costly: JIT compilation took longer than running them.
            await db.run_ddl("SET LOCAL jit = off")
            # Prepared statements switch to a generic plan after five runs; planned without the
            # values, the per-site page's read of fifty sites walked the whole period's index.
            await db.run_ddl("SET LOCAL plan_cache_mode = force_custom_plan")
            yield
