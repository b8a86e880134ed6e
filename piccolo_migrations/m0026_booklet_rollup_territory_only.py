"""The booklet rollup's per-territory figures keyed without a structure (docs/reports.md, Speed).

Booklets printed, vouchers cancelled, replaced and expired unused are shown per territory only,
so the fold now counts them under structure 0 (``booklet_rollups.BY_TERRITORY_ONLY``). The rows
counted before are summed over their structures into that key: the same booklets and vouchers,
a quarter of the rollup's rows fewer. No booklet needs folding again: the facts the next fold
subtracts are still those of ``booklet_report_fact``, now keyed the same way.
"""

from piccolo.apps.migrations.auto.migration_manager import MigrationManager
from piccolo.engine.finder import engine_finder

ID = "2026-11-28T10:45:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "booklet rollup: per-territory figures without a structure"

# Summed under structure -1 first (no structure has that id), then the rows per structure go and
# the sums take structure 0: plain statements that both engines run inside the migration.
STATEMENTS = [
    "INSERT INTO booklet_by_month "
    "(stage, month, until_month, days, territory, structure, programme, booklets, vouchers) "
    "SELECT stage, month, until_month, days, territory, -1, programme, SUM(booklets), SUM(vouchers) "
    "FROM booklet_by_month WHERE stage IN ('printed', 'cancelled', 'replaced', 'unused') "
    "GROUP BY stage, month, until_month, days, territory, programme",
    "DELETE FROM booklet_by_month WHERE stage IN ('printed', 'cancelled', 'replaced', 'unused') "
    "AND structure <> -1",
    "UPDATE booklet_by_month SET structure = 0 WHERE structure = -1",
    "DELETE FROM booklet_by_month WHERE stage IN ('printed', 'cancelled', 'replaced', 'unused') "
    "AND booklets = 0 AND vouchers = 0",
]


async def forwards():
    manager = MigrationManager(migration_id=ID, app_name="pass_numerique", description=DESCRIPTION)

    async def run_sql():
        engine = engine_finder()
        for statement in STATEMENTS:
            await engine.run_ddl(statement)

    manager.add_raw(run_sql)
    return manager
