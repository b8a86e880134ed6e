"""Indexes on the site rollup for the dashboard's programme and theme filters.

Under either filter the per-site ranking and the territory pairs read ``redemption_by_site``,
whose other indexes lead with the month: they walked every entry of the period to keep one
programme's or one theme's. Led by the filter, with every column those reads need, each read
stays in its own part of an index (an index-only scan on PostgreSQL).
"""

from piccolo.apps.migrations.auto.migration_manager import MigrationManager
from piccolo.engine.finder import engine_finder

ID = "2026-11-28T04:20:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "site rollup: indexes led by programme and by theme"

STATEMENTS = [
    "CREATE INDEX redemption_by_site_of_programme ON redemption_by_site "
    "(programme, month, site, booklet_territory, theme, redeemed, amount_cents)",
    "CREATE INDEX redemption_by_site_of_theme ON redemption_by_site "
    "(theme, month, site, booklet_territory, programme, redeemed, amount_cents)",
]


async def forwards():
    manager = MigrationManager(migration_id=ID, app_name="pass_numerique", description=DESCRIPTION)

    async def run_sql():
        engine = engine_finder()
        for statement in STATEMENTS:
            await engine.run_ddl(statement)

    manager.add_raw(run_sql)
    return manager
