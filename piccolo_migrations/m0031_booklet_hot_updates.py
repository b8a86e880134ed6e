"""PostgreSQL: a redemption's booklet update becomes a HOT update (no index is touched).

Every redemption adds one to its booklet's ``used_count``, may set ``first_used_at`` and sets
``report_pending`` (domain/single_redemption.py, domain/booklet_usage.py). PostgreSQL can then
update the row in place, on the same page and without a new entry in any index (a heap-only
tuple), only when no indexed column changes and the page has room. Two indexes stood in the
way: ``booklet_to_fold`` (partial, ``WHERE report_pending``: the flag flips on the first
redemption after each fold) and ``booklet_issued_valid_until``, which carried ``used_count`` so
that expiring counts were read from the index alone. Each redemption therefore wrote an entry into
each of the booklet's 14 indexes that hold an issued booklet: bench/redeem_writes.py measured the
application's statement at 39 % of the raw ceiling with them, 61 % without.

- ``booklet_to_fold`` goes: the fold finds pending booklets by reading the table, a few
  milliseconds for tens of thousands of booklets, once a minute.
- ``booklet_issued_valid_until`` keeps its columns but ``used_count``: the expiring counts read
  it from the row.
- ``fillfactor = 80`` leaves room on each page for the in-place versions. Pages written before
  this migration gain it as vacuum prunes them; ``VACUUM FULL booklet`` applies it at once.

SQLite has no heap-only tuples and updates only the indexes whose columns change, so its
indexes stay as m0013 made them.
"""

from piccolo.apps.migrations.auto.migration_manager import MigrationManager
from piccolo.engine.finder import engine_finder

ID = "2026-12-01T14:30:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "booklet: HOT updates on redemption (PostgreSQL)"

POSTGRES = [
    "DROP INDEX IF EXISTS booklet_to_fold",
    "DROP INDEX booklet_issued_valid_until",
    "CREATE INDEX booklet_issued_valid_until ON booklet "
    "(valid_until, territory, structure, programme, voucher_count, issued_at) WHERE status = 'issued'",
    "ALTER TABLE booklet SET (fillfactor = 80)",
]


async def forwards():
    manager = MigrationManager(migration_id=ID, app_name="pass_numerique", description=DESCRIPTION)

    async def run_sql():
        engine = engine_finder()
        if engine.engine_type == "postgres":
            for statement in POSTGRES:
                await engine.run_ddl(statement)

    manager.add_raw(run_sql)
    return manager
