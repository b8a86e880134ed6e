"""What differs between SQLite and PostgreSQL in the statements the application runs, in one place.

Domain code never asks which engine it runs on: where the two differ it calls one of these
functions, named for what it does, whose docstring says how each engine does it. They return
SQL fragments to put in a statement, values read back from one, or run the statement that only
one engine needs. ``transaction.is_sqlite()`` stays for the infrastructure of ``db/`` itself
(write transactions, snapshots, reads side by side, the engine).

The migrations keep their own per-engine DDL (triggers, functions, partial indexes, column
types): they are frozen history, each must build tomorrow the schema it built the day it was
written, so they never import application code that may change after them, this module included.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, date, datetime
from typing import Any

from pass_numerique.db.transaction import engine, is_sqlite

# ---------------------------------------------------------------------------
# SQL fragments


def month_of_day(day_sql: str) -> str:
    """``YYYY-MM`` of a DATE expression: SQLite keeps dates as ISO text (its first seven
    characters), PostgreSQL formats the date."""
    return f"substr({day_sql}, 1, 7)" if is_sqlite() else f"to_char({day_sql}, 'YYYY-MM')"


def whole_days_between(later_sql: str, earlier_sql: str) -> str:
    """Whole days from ``earlier_sql`` to ``later_sql`` (timestamptz expressions), rounded down:
    SQLite through Julian day numbers of its UTC text, PostgreSQL through the seconds of the interval."""
    if is_sqlite():
        return f"CAST(julianday({later_sql}) - julianday({earlier_sql}) AS INTEGER)"
    return f"CAST(FLOOR(EXTRACT(EPOCH FROM ({later_sql} - {earlier_sql})) / 86400) AS INTEGER)"


def timestamp_parameter(placeholder: str) -> str:
    """A bound datetime used in arithmetic: PostgreSQL must be told it is a timestamptz (``$1 -
    column`` could be an interval), SQLite binds the UTC text Piccolo's adapter makes of it."""
    return placeholder if is_sqlite() else f"CAST({placeholder} AS TIMESTAMPTZ)"


def indexed_by(index: str) -> str:
    """`` INDEXED BY index`` on SQLite, whose planner, without statistics, would rather scan the
    table than read the few rows a partial index holds; nothing on PostgreSQL."""
    return f" INDEXED BY {index}" if is_sqlite() else ""


def no_limit() -> str:
    """The LIMIT clause of a query with an OFFSET and no limit: SQLite accepts OFFSET only after a
    LIMIT (``LIMIT -1``: all rows); PostgreSQL needs none."""
    return " LIMIT -1" if is_sqlite() else ""


# ---------------------------------------------------------------------------
# values read back from raw statements


def timestamp_read(value: Any) -> datetime | None:
    """A timestamptz as a raw statement hands it back, in UTC: a datetime from asyncpg, the UTC
    text Piccolo stores from SQLite when the column's type is not known (an expression, a join)."""
    if value is None:
        return None
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def date_read(value: Any) -> date | None:
    """A DATE as a raw statement hands it back: a date from asyncpg, ISO text from SQLite."""
    if value is None or isinstance(value, date):
        return value
    return date.fromisoformat(str(value)[:10])


# ---------------------------------------------------------------------------
# statements only one engine needs


async def lock_in_one_snapshot(tables: Sequence[str]) -> None:
    """At the start of a write transaction: read one snapshot until commit and let no other such
    transaction write ``tables`` meanwhile (a rollup fold).

    PostgreSQL: ``REPEATABLE READ`` (a row read and changed by another transaction before this one
    commits makes its update fail, see ``is_serialization_failure``) and a ``SHARE ROW EXCLUSIVE``
    lock on ``tables``, which plain reads do not wait for. SQLite: nothing, its write transaction
    (``BEGIN IMMEDIATE``) already excludes every other writer and reads one snapshot.
    """
    if is_sqlite():
        return
    db = engine()
    await db.run_ddl("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ")
    await db.run_ddl(f"LOCK TABLE {', '.join(tables)} IN SHARE ROW EXCLUSIVE MODE")


def is_serialization_failure(exc: BaseException) -> bool:
    """A ``REPEATABLE READ`` transaction failed because a row it read changed meanwhile (PostgreSQL,
    SQLSTATE 40001): running it again from a new snapshot is the remedy. Never on SQLite."""
    return getattr(exc, "sqlstate", None) == "40001"


async def reclaim_after_bulk_update(tables: Sequence[str]) -> None:
    """After an update of most rows of ``tables`` (the first fold of a rollup): PostgreSQL keeps
    every old row version until a vacuum and plans from statistics taken before, so ``VACUUM
    (ANALYZE)`` them now rather than when autovacuum comes by (outside any transaction). SQLite
    reuses the freed pages without one, and its VACUUM would rewrite the whole file: nothing."""
    if is_sqlite():
        return
    for table in tables:
        await engine().run_ddl(f"VACUUM (ANALYZE) {table}")
