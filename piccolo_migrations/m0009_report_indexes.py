"""Indexes the report queries need at scale (bench/reports.py).

``NOT EXISTS (SELECT 1 FROM booklet r WHERE r.replaced_by = booklet.id)`` leaves replacement
booklets out of the funnel: without an index SQLite scans the booklet table once per booklet.
Few booklets are replaced, so the index is partial and tiny.
"""

from piccolo.apps.migrations.auto.migration_manager import MigrationManager
from piccolo.engine.finder import engine_finder

ID = "2026-11-24T12:00:02:000000"
VERSION = "1.38.0"
DESCRIPTION = "indexes for the reports"

STATEMENTS = [
    "CREATE INDEX booklet_replaced_by ON booklet (replaced_by) WHERE replaced_by IS NOT NULL",
]


async def forwards():
    manager = MigrationManager(migration_id=ID, app_name="pass_numerique", description=DESCRIPTION)

    async def run_sql():
        engine = engine_finder()
        for statement in STATEMENTS:
            await engine.run_ddl(statement)

    manager.add_raw(run_sql)
    return manager
