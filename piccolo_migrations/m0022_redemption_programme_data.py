"""Back-fill of ``redemption.programme`` (m0021), and the programme in the index that counts
people per site.

Distinct beneficiaries per site under a programme filter joined every redemption of the page's
sites to its voucher and booklet (0.3 s at national scale). With the programme copied on the
redemption, like the beneficiary (m0016/m0017), and in the index, the count reads the index
alone.
"""

from piccolo.apps.migrations.auto.migration_manager import MigrationManager
from piccolo.engine.finder import engine_finder

ID = "2026-11-28T04:16:11:650787"
VERSION = "1.38.0"
DESCRIPTION = "redemption programme: back-fill, and in the people-per-site index"

STATEMENTS = [
    "UPDATE redemption SET programme = (SELECT b.programme FROM voucher v "
    "JOIN booklet b ON b.id = v.booklet WHERE v.id = redemption.voucher)",
    "DROP INDEX redemption_site_people",
    "CREATE INDEX redemption_site_people ON redemption (site, day, beneficiary, programme) "
    "WHERE undone_at IS NULL",
]


async def forwards():
    manager = MigrationManager(migration_id=ID, app_name="pass_numerique", description=DESCRIPTION)

    async def run_sql():
        engine = engine_finder()
        for statement in STATEMENTS:
            await engine.run_ddl(statement)

    manager.add_raw(run_sql)
    return manager
