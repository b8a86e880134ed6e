"""Time to first use is never negative: the rollup's first-use rows of negative days go to day 0.

A redemption dated before its booklet's issuance (an offline upload, a phone clock running slow)
was accepted until issue 17 and gave a negative time to first use. The fold keyed it under a
negative ``days``, which the reads took for the marker of the other stages (-1) or left out of the
buckets, so the figure changed when the rollup was folded. Redemption now refuses such a date or
moves it to the issuance, and the fold and the reads count a negative time as day 0
(``booklet_rollups.contributions``); these statements key the rows folded before the same way. No
booklet needs folding again: the next fold subtracts what ``contributions`` gives for the facts
of ``booklet_report_fact``, now day 0 as well.
"""

# ruff: noqa: S608 (constant SQL built from fixed column names)
from piccolo.apps.migrations.auto.migration_manager import MigrationManager
from piccolo.engine.finder import engine_finder

ID = "2026-12-03T07:34:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "booklet rollup: time to first use never negative"

_KEY = ("month", "until_month", "territory", "structure", "programme")
_SAME_KEY = " AND ".join(f"n.{c} = booklet_by_month.{c}" for c in _KEY)
_NEGATIVE = "n.stage = 'first_use' AND n.days < 0"

# Added to the day-0 row of the same key where there is one, inserted as a day-0 row where there
# is none, then deleted: plain statements that both engines run inside the migration.
STATEMENTS = [
    "UPDATE booklet_by_month SET "
    f"booklets = booklets + (SELECT COALESCE(SUM(n.booklets), 0) FROM booklet_by_month n "
    f"WHERE {_NEGATIVE} AND {_SAME_KEY}), "
    f"vouchers = vouchers + (SELECT COALESCE(SUM(n.vouchers), 0) FROM booklet_by_month n "
    f"WHERE {_NEGATIVE} AND {_SAME_KEY}) "
    "WHERE stage = 'first_use' AND days = 0",
    "INSERT INTO booklet_by_month "
    "(stage, month, until_month, days, territory, structure, programme, booklets, vouchers) "
    "SELECT 'first_use', n.month, n.until_month, 0, n.territory, n.structure, n.programme, "
    "SUM(n.booklets), SUM(n.vouchers) FROM booklet_by_month n "
    f"WHERE {_NEGATIVE} AND NOT EXISTS (SELECT 1 FROM booklet_by_month z WHERE z.stage = 'first_use' "
    "AND z.days = 0 AND " + " AND ".join(f"z.{c} = n.{c}" for c in _KEY) + ") "
    "GROUP BY n.month, n.until_month, n.territory, n.structure, n.programme",
    "DELETE FROM booklet_by_month WHERE stage = 'first_use' AND days < 0",
]


async def forwards():
    manager = MigrationManager(migration_id=ID, app_name="pass_numerique", description=DESCRIPTION)

    async def run_sql():
        engine = engine_finder()
        for statement in STATEMENTS:
            await engine.run_ddl(statement)

    manager.add_raw(run_sql)
    return manager
