"""Key, index and back-fill of ``redemption_by_site_programme`` (m0027; docs/reports.md, Speed).

Like the other rollups derived from the site rollup (m0019, m0025), it sums ``redemption_by_site``
over the keys it drops (theme, period): both count the redemptions recorded as folded, so the sum
is exact, and the fold keeps all of them from then on. Its reads always name one programme: the
second index leads with it and holds every column they need.
"""

from piccolo.apps.migrations.auto.migration_manager import MigrationManager
from piccolo.engine.finder import engine_finder

ID = "2026-11-28T10:54:29:893601"
VERSION = "1.38.0"
DESCRIPTION = "per-programme site rollup: key, index and back-fill"

STATEMENTS = [
    "CREATE UNIQUE INDEX redemption_by_site_programme_key ON redemption_by_site_programme "
    "(month, site, booklet_territory, programme)",
    "CREATE INDEX redemption_by_site_programme_read ON redemption_by_site_programme "
    "(programme, month, site, booklet_territory, redeemed, amount_cents)",
    "INSERT INTO redemption_by_site_programme "
    "(month, site, booklet_territory, programme, redeemed, amount_cents) "
    "SELECT month, site, booklet_territory, programme, SUM(redeemed), SUM(amount_cents) "
    "FROM redemption_by_site GROUP BY month, site, booklet_territory, programme",
]


async def forwards():
    manager = MigrationManager(migration_id=ID, app_name="pass_numerique", description=DESCRIPTION)

    async def run_sql():
        engine = engine_finder()
        for statement in STATEMENTS:
            await engine.run_ddl(statement)

    manager.add_raw(run_sql)
    return manager
