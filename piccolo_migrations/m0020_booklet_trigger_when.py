"""PostgreSQL: the booklet rollup's trigger (m0013) runs its function only when there is work.

m0013's trigger called a PL/pgSQL function on every update of a funnel column, the one-statement
redemption's included, although the booklet was often already pending. With a ``WHEN`` clause
the server checks the flag itself, and the redemption, which now sets the flag in its own
booklet update (domain/single_redemption.py), calls no function at all. The replacement link
gets its own trigger, also with a ``WHEN``. SQLite's triggers (m0013) already had theirs.
"""

from piccolo.apps.migrations.auto.migration_manager import MigrationManager
from piccolo.engine.finder import engine_finder

ID = "2026-11-28T04:10:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "booklet rollup trigger: WHEN clauses on PostgreSQL"

_WATCHED = (
    "territory, structure, programme, status, voucher_count, used_count, created_at, allocated_at, "
    "issued_at, cancelled_at, valid_until, first_used_at, replaced_by"
)

POSTGRES = [
    "DROP TRIGGER booklet_report_pending ON booklet",
    "CREATE OR REPLACE FUNCTION booklet_report_pending() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN "
    "NEW.report_pending := true; RETURN NEW; END $$",
    f"CREATE TRIGGER booklet_report_pending BEFORE UPDATE OF {_WATCHED} ON booklet "
    "FOR EACH ROW WHEN (NOT NEW.report_pending) EXECUTE FUNCTION booklet_report_pending()",
    "CREATE FUNCTION booklet_replacement_pending() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN "
    "UPDATE booklet SET report_pending = true WHERE id = NEW.replaced_by AND NOT report_pending; "
    "RETURN NULL; END $$",
    "CREATE TRIGGER booklet_replacement_pending AFTER UPDATE OF replaced_by ON booklet FOR EACH ROW "
    "WHEN (NEW.replaced_by IS NOT NULL AND NEW.replaced_by IS DISTINCT FROM OLD.replaced_by) "
    "EXECUTE FUNCTION booklet_replacement_pending()",
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
