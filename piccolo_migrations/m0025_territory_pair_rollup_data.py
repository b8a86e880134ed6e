"""Key and back-fill of ``redemption_by_territory_pair`` (m0024; docs/reports.md, section Speed).

Like ``redemption_by_site_month`` (m0019), it sums the site rollup over the keys it drops (theme,
programme, period): both count the redemptions recorded as folded, so the sum is exact, and the
fold keeps all of them from then on.
"""

from piccolo.apps.migrations.auto.migration_manager import MigrationManager
from piccolo.engine.finder import engine_finder

ID = "2026-11-28T04:28:29:486079"
VERSION = "1.38.0"
DESCRIPTION = "cross-territory rollup: key and back-fill"

STATEMENTS = [
    "CREATE UNIQUE INDEX redemption_by_territory_pair_key ON redemption_by_territory_pair "
    "(month, site, booklet_territory)",
    "INSERT INTO redemption_by_territory_pair (month, site, booklet_territory, redeemed, amount_cents) "
    "SELECT month, site, booklet_territory, SUM(redeemed), SUM(amount_cents) FROM redemption_by_site "
    "GROUP BY month, site, booklet_territory",
]


async def forwards():
    manager = MigrationManager(migration_id=ID, app_name="pass_numerique", description=DESCRIPTION)

    async def run_sql():
        engine = engine_finder()
        for statement in STATEMENTS:
            await engine.run_ddl(statement)

    manager.add_raw(run_sql)
    return manager
