"""Build the Piccolo engine from ``PN_DATABASE_URL`` (SQLite by default, PostgreSQL in production)."""

from __future__ import annotations

from urllib.parse import unquote, urlsplit

from piccolo.engine.base import Engine
from piccolo.engine.postgres import PostgresEngine
from piccolo.engine.sqlite import SQLiteEngine

from pass_numerique.settings import Settings


def postgres_config(url: str) -> dict[str, object]:
    """Split a ``postgresql://`` URL into asyncpg connection arguments."""
    parts = urlsplit(url)
    config: dict[str, object] = {
        "host": parts.hostname or "127.0.0.1",
        "port": parts.port or 5432,
        "database": (parts.path or "/").lstrip("/") or "postgres",
        "user": unquote(parts.username) if parts.username else "postgres",
    }
    if parts.password:
        config["password"] = unquote(parts.password)
    return config


def make_engine(settings: Settings) -> Engine:
    """The engine for the configured database."""
    if settings.is_sqlite:
        path = settings.sqlite_path
        path.parent.mkdir(parents=True, exist_ok=True)
        # timeout is SQLite's busy timeout: writers queue instead of failing at once.
        return SQLiteEngine(path=str(path), timeout=30)
    return PostgresEngine(config=postgres_config(settings.database_url))
