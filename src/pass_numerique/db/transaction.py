"""One helper to open a write transaction on either engine."""

from __future__ import annotations

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


@asynccontextmanager
async def write_transaction() -> AsyncIterator[None]:
    """Commit on exit, roll back on exception.

    SQLite write transactions must take the write lock up front (IMMEDIATE):
    two deferred transactions that both upgrade to writing deadlock into
    "database is locked". PostgreSQL's ``transaction()`` takes no such argument.
    """
    db = engine()
    if isinstance(db, SQLiteEngine):
        async with db.transaction(transaction_type=TransactionType.immediate):
            yield
    else:
        async with db.transaction():
            yield
