"""Back-fill of ``redemption.beneficiary`` (m0016), the index that counts people per site, and a
covering index on the site rollup.

Distinct beneficiaries per site are not additive over months, so no rollup holds them: the
per-site table counts them from the live redemptions of its sites and days. With the
beneficiary on the redemption and in this index, that count never leaves the index (an
index-only scan on PostgreSQL) instead of joining every redemption to its voucher and booklet.
"""

from piccolo.apps.migrations.auto.migration_manager import MigrationManager
from piccolo.engine.finder import engine_finder

ID = "2026-11-28T01:10:56:265555"
VERSION = "1.38.0"
DESCRIPTION = "redemption beneficiary: back-fill and index; covering index on the site rollup"

STATEMENTS = [
    "UPDATE redemption SET beneficiary = (SELECT b.beneficiary FROM voucher v "
    "JOIN booklet b ON b.id = v.booklet WHERE v.id = redemption.voucher)",
    "CREATE INDEX redemption_site_people ON redemption (site, day, beneficiary) WHERE undone_at IS NULL",
    # Dashboards read the site rollup by month range: with every column in the index the read
    # never visits the table (an index-only scan on PostgreSQL).
    "CREATE INDEX redemption_by_site_read ON redemption_by_site "
    "(month, site, theme, booklet_territory, programme, period, redeemed, amount_cents)",
]


async def forwards():
    manager = MigrationManager(migration_id=ID, app_name="pass_numerique", description=DESCRIPTION)

    async def run_sql():
        engine = engine_finder()
        for statement in STATEMENTS:
            await engine.run_ddl(statement)

    manager.add_raw(run_sql)
    return manager
