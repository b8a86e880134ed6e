"""Key, back-fill and index for the per-site table (m0018; docs/reports.md, section Speed).

``redemption_by_site_month`` is ``redemption_by_site`` without the theme, booklet and period:
both count the redemptions recorded as folded, so summing the finer rollup gives the new one
exactly, and the fold keeps both from then on. The index on ``redemption_by_site (site, month)``
serves the themes of one page of sites.
"""

from piccolo.apps.migrations.auto.migration_manager import MigrationManager
from piccolo.engine.finder import engine_finder

ID = "2026-11-28T03:54:13:658171"
VERSION = "1.38.0"
DESCRIPTION = "per-site ranking rollup: key, back-fill and themes index"

STATEMENTS = [
    "CREATE UNIQUE INDEX redemption_by_site_month_key ON redemption_by_site_month (month, site)",
    "INSERT INTO redemption_by_site_month (month, site, redeemed, amount_cents) "
    "SELECT month, site, SUM(redeemed), SUM(amount_cents) FROM redemption_by_site GROUP BY month, site",
    "CREATE INDEX redemption_by_site_of_site ON redemption_by_site (site, month)",
]


async def forwards():
    manager = MigrationManager(migration_id=ID, app_name="pass_numerique", description=DESCRIPTION)

    async def run_sql():
        engine = engine_finder()
        for statement in STATEMENTS:
            await engine.run_ddl(statement)

    manager.add_raw(run_sql)
    return manager
