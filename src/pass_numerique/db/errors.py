"""Recognise the database's own refusals, whatever the engine."""

from __future__ import annotations

import sqlite3

from asyncpg.exceptions import UniqueViolationError


def is_unique_violation(exc: BaseException) -> bool:
    """True when a UNIQUE constraint or index refused the write."""
    if isinstance(exc, UniqueViolationError):
        return True
    return isinstance(exc, sqlite3.IntegrityError) and "UNIQUE" in str(exc)
