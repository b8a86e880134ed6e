"""One PostgreSQL statement straight through asyncpg, for the few statements on the hot path.

Piccolo builds every query (placeholders bundled, compiled, rows turned into dicts) at about
40 µs a call on our machines: a sixth of the Python time of a redemption over HTTP. The
statements here are constant SQL text with ``$n`` placeholders, prepared once per pooled
connection by asyncpg's statement cache, and run outside any transaction (each is atomic on
its own). Everything else goes through Piccolo.
"""

from __future__ import annotations

from typing import Any

from piccolo.engine.postgres import PostgresEngine

from pass_numerique.db.transaction import engine


async def fetch_value(sql: str, *args: Any) -> Any:
    """The first column of the first row of ``sql`` (None without rows), on PostgreSQL only."""
    db = engine()
    if not isinstance(db, PostgresEngine):
        raise TypeError("fetch_value runs PostgreSQL statements")
    if db.current_transaction.get() is not None:
        # Inside a transaction the statement must run on its connection: let Piccolo do it.
        raise RuntimeError("fetch_value runs outside transactions only")
    if db.pool is not None:
        async with db.pool.acquire() as connection:
            return await connection.fetchval(sql, *args)
    connection = await db.get_new_connection()  # no pool (the test suite): one connection per call
    try:
        return await connection.fetchval(sql, *args)
    finally:
        await connection.close()
