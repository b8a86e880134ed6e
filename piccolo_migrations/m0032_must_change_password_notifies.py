"""PostgreSQL: a change of ``staff_user.must_change_password`` empties the workers' token caches.

A bearer token's actor now carries whether the account must replace a temporary password (the
API refuses everything else until then), so the token cache must forget it when an admin resets
a password: m0030's trigger on ``staff_user`` watches that column too.
"""

from piccolo.apps.migrations.auto.migration_manager import MigrationManager
from piccolo.engine.finder import engine_finder

ID = "2026-12-03T07:32:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "auth change notifications: must_change_password"

POSTGRES = [
    "DROP TRIGGER staff_user_auth_changed ON staff_user",
    "CREATE TRIGGER staff_user_auth_changed AFTER UPDATE OF email, display_name, role, active, site, "
    "structure, must_change_password OR DELETE OR TRUNCATE ON staff_user "
    "FOR EACH STATEMENT EXECUTE FUNCTION pn_auth_changed()",
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
