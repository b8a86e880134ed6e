"""Apply the Piccolo migrations and prepare the embedded database."""

from __future__ import annotations

from piccolo.apps.migrations.commands.forwards import run_forwards
from piccolo.engine.sqlite import SQLiteEngine

from pass_numerique.db.transaction import engine
from pass_numerique.security import signing_keys
from pass_numerique.settings import get_settings


async def migrate() -> None:
    """Bring the schema up to date (idempotent) and make sure a signing key exists."""
    db = engine()
    if isinstance(db, SQLiteEngine):
        # WAL lets readers work while one writer commits; the setting sticks to the file.
        await db.run_ddl("PRAGMA journal_mode=WAL")
    response = await run_forwards(app_name="all", fake=False)
    if not response.success:
        raise RuntimeError(f"Migration failed: {response.message}")
    if not get_settings().production:
        signing_keys.ensure_key()
