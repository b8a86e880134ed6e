"""The reimbursement period in ``redemption_by_site`` (m0014): its key, an index, and a rebuild.

The rollup always equals the sum, per key, of the redemptions recorded as counted
(``report_counted``) at their last fold. Rebuilding it from them puts each row under its period
without touching the flags that ``redemption_by_territory`` shares. The statements of a month
then read one row per site and key instead of every redemption (domain/report_rollups.py).
"""

from piccolo.apps.migrations.auto.migration_manager import MigrationManager
from piccolo.engine.finder import engine_finder

ID = "2026-11-28T01:00:46:271319"
VERSION = "1.38.0"
DESCRIPTION = "statement rollup: key with the period, index and rebuild"


def _statements(postgres: bool) -> list[str]:
    month = "to_char(r.day, 'YYYY-MM')" if postgres else "substr(r.day, 1, 7)"
    return [
        "DROP INDEX redemption_by_site_key",
        "DELETE FROM redemption_by_site",
        "CREATE UNIQUE INDEX redemption_by_site_key ON redemption_by_site "
        "(month, period, site, booklet_territory, programme, theme)",
        "CREATE INDEX redemption_by_site_period ON redemption_by_site (period, site)",
        "INSERT INTO redemption_by_site "  # noqa: S608 (constant SQL)
        "(month, period, site, booklet_territory, programme, theme, redeemed, amount_cents) "
        f"SELECT {month}, r.period, r.site, b.territory, b.programme, r.theme, COUNT(*), "
        "SUM(v.face_value_cents) FROM redemption r JOIN voucher v ON v.id = r.voucher "
        "JOIN booklet b ON b.id = v.booklet WHERE r.report_counted GROUP BY 1, 2, 3, 4, 5, 6",
    ]


async def forwards():
    manager = MigrationManager(migration_id=ID, app_name="pass_numerique", description=DESCRIPTION)

    async def run_sql():
        engine = engine_finder()
        for statement in _statements(engine.engine_type == "postgres"):
            await engine.run_ddl(statement)

    manager.add_raw(run_sql)
    return manager
