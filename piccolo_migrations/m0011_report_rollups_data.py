"""Keys and back-fill for the report rollups of m0010 (docs/reports.md, section Speed).

- One row per key in each rollup table: the fold adds to it with ``ON CONFLICT``.
- A partial index on the redemptions waiting for the fold (new ones, and undone ones): the fold
  and every report read them, and they are few.
- ``redemption.day`` is the local day of ``redeemed_at`` (the rollups' months are local months).
- ``booklet.used_count`` and ``first_used_at`` from the vouchers and live redemptions.

The rollups start empty: the first fold (``pass-numerique refresh-reports``, or the server's
periodic fold) counts every redemption; until then the reports read them all at query time.
"""

import os
from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

from piccolo.apps.migrations.auto.migration_manager import MigrationManager
from piccolo.engine.base import Engine
from piccolo.engine.finder import engine_finder
from piccolo.querystring import QueryString

ID = "2026-11-24T15:13:41:939532"
VERSION = "1.38.0"
DESCRIPTION = "report rollups: keys, indexes and back-fill"

STATEMENTS = [
    "CREATE UNIQUE INDEX redemption_by_site_key ON redemption_by_site "
    "(month, site, booklet_territory, programme, theme)",
    "CREATE UNIQUE INDEX redemption_by_territory_key ON redemption_by_territory "
    "(month, period, booklet_territory, programme, theme, age_band)",
    "CREATE INDEX redemption_to_fold ON redemption (id) WHERE report_pending",
    "CREATE INDEX redemption_site_day ON redemption (site, day)",
    "CREATE INDEX booklet_issued_at ON booklet (issued_at)",
    "CREATE INDEX booklet_issued_valid_until ON booklet (valid_until) WHERE status = 'issued'",
    "UPDATE booklet SET "
    "used_count = (SELECT COUNT(*) FROM voucher v WHERE v.booklet = booklet.id AND v.status = 'redeemed'), "
    "first_used_at = (SELECT MIN(r.redeemed_at) FROM redemption r JOIN voucher v ON v.id = r.voucher "
    "WHERE v.booklet = booklet.id AND r.undone_at IS NULL) "
    "WHERE EXISTS (SELECT 1 FROM voucher v WHERE v.booklet = booklet.id AND v.status = 'redeemed')",
]


def _local_zone() -> ZoneInfo:
    # The département's zone as the application reads it (settings.Settings.timezone: the same
    # variable, the same default), without importing the application: a migration replays as
    # it was written, whatever the application's code has become.
    return ZoneInfo(os.environ.get("PN_TIMEZONE", "Europe/Paris"))


def _local_day(moment: datetime | str) -> date:
    """The local calendar day of a stored ``redeemed_at`` (SQLite keeps UTC text or a naive UTC value)."""
    if isinstance(moment, str):
        moment = datetime.fromisoformat(moment)
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(_local_zone()).date()


async def _backfill_days(engine: Engine) -> None:
    # The engine's query strings run inside the migration's transaction when there is one.
    if engine.engine_type == "postgres":
        await engine.run_querystring(
            QueryString("UPDATE redemption SET day = (redeemed_at AT TIME ZONE {})::date", _local_zone().key)
        )
        return
    # SQLite keeps timestamps as UTC text and knows no time zones: the days are computed here.
    rows = await engine.run_querystring(
        QueryString("SELECT id, redeemed_at FROM redemption WHERE day IS NULL")
    )
    for row in rows:
        await engine.run_querystring(
            QueryString(
                "UPDATE redemption SET day = {} WHERE id = {}", _local_day(row["redeemed_at"]), row["id"]
            )
        )


async def forwards():
    manager = MigrationManager(migration_id=ID, app_name="pass_numerique", description=DESCRIPTION)

    async def run_sql():
        engine = engine_finder()
        for statement in STATEMENTS:
            await engine.run_ddl(statement)
        await _backfill_days(engine)

    manager.add_raw(run_sql)
    return manager
