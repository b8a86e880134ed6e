"""Keys, indexes and the trigger of the booklet funnel rollup of m0012 (domain/booklet_rollups.py).

- One row per key in ``booklet_by_month``: the fold adds to it with ``ON CONFLICT``.
- A partial index on the booklets waiting for the fold; indexes on the stage dates the reports
  read for the edge days of a period that does not start or end on a month boundary.
- A trigger marks a booklet pending whenever a column the funnel reads changes, whoever writes
  it (a new booklet is pending by default). A booklet that becomes the replacement of another
  is marked too: whether it is an original booklet depends on that other row.

Every existing booklet starts pending (the column's default): the first fold counts them all;
until then the reports correct the empty rollup with every booklet, which is exact but slow.
"""

from piccolo.apps.migrations.auto.migration_manager import MigrationManager
from piccolo.engine.finder import engine_finder

ID = "2026-11-27T23:49:20:620537"
VERSION = "1.38.0"
DESCRIPTION = "booklet funnel rollup: keys, indexes and the pending trigger"

_WATCHED = (
    "territory, structure, programme, status, voucher_count, used_count, created_at, allocated_at, "
    "issued_at, cancelled_at, valid_until, first_used_at, replaced_by"
)

STATEMENTS = [
    # The read groups by (stage, days, territory, structure): in this order SQLite groups as it scans.
    "CREATE UNIQUE INDEX booklet_by_month_key ON booklet_by_month "
    "(stage, days, territory, structure, programme, month, until_month)",
    "CREATE INDEX booklet_to_fold ON booklet (id) WHERE report_pending",
    # Expiring and expired counts read issued booklets by end of validity: with every column they
    # need in the index, a read never visits the table (an index-only scan on PostgreSQL).
    "DROP INDEX booklet_issued_valid_until",
    "CREATE INDEX booklet_issued_valid_until ON booklet "
    "(valid_until, territory, structure, programme, voucher_count, used_count, issued_at) "
    "WHERE status = 'issued'",
    # The sleeping stock's ages per structure, from the index alone.
    "CREATE INDEX booklet_sleeping ON booklet (structure, allocated_at, territory, programme) "
    "WHERE status = 'allocated'",
    "CREATE INDEX booklet_created_at ON booklet (created_at)",
    "CREATE INDEX booklet_allocated_at ON booklet (allocated_at) WHERE allocated_at IS NOT NULL",
    "CREATE INDEX booklet_cancelled_at ON booklet (cancelled_at) WHERE cancelled_at IS NOT NULL",
]

POSTGRES = [
    "CREATE FUNCTION booklet_report_pending() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN "
    "NEW.report_pending := true; "
    "IF NEW.replaced_by IS DISTINCT FROM OLD.replaced_by AND NEW.replaced_by IS NOT NULL THEN "
    "UPDATE booklet SET report_pending = true WHERE id = NEW.replaced_by AND NOT report_pending; "
    "END IF; RETURN NEW; END $$",
    f"CREATE TRIGGER booklet_report_pending BEFORE UPDATE OF {_WATCHED} ON booklet "
    "FOR EACH ROW EXECUTE FUNCTION booklet_report_pending()",
]

SQLITE = [
    f"CREATE TRIGGER booklet_report_pending AFTER UPDATE OF {_WATCHED} ON booklet "  # noqa: S608
    "FOR EACH ROW WHEN NOT NEW.report_pending BEGIN "
    "UPDATE booklet SET report_pending = 1 WHERE id = NEW.id; END",
    "CREATE TRIGGER booklet_replacement_pending AFTER UPDATE OF replaced_by ON booklet "
    "FOR EACH ROW WHEN NEW.replaced_by IS NOT NULL BEGIN "
    "UPDATE booklet SET report_pending = 1 WHERE id = NEW.replaced_by AND NOT report_pending; END",
]


async def forwards():
    manager = MigrationManager(migration_id=ID, app_name="pass_numerique", description=DESCRIPTION)

    async def run_sql():
        engine = engine_finder()
        extra = POSTGRES if engine.engine_type == "postgres" else SQLITE
        for statement in [*STATEMENTS, *extra]:
            await engine.run_ddl(statement)

    manager.add_raw(run_sql)
    return manager
