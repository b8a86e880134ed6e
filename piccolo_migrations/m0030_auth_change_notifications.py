"""PostgreSQL: NOTIFY the server workers when something bearer authentication reads has changed.

Each worker keeps the actors of recently used bearer tokens (domain/token_cache.py). The
triggers below send ``pn_auth_changed`` when a transaction changes a token, an account,
a coordinator's territories or moves a site or structure to another territory. The
notification goes out when that transaction commits. Each trigger watches only the columns
authentication reads: the per-request ``last_used_at``, the sign-in's ``last_login_at`` or a
site's new opening hours send nothing. SQLite has no notifications and no token cache.
"""

from piccolo.apps.migrations.auto.migration_manager import MigrationManager
from piccolo.engine.finder import engine_finder

ID = "2026-12-01T10:00:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "auth change notifications for the token cache"

_STATEMENT_TRIGGERS = {
    "api_token": "UPDATE OF staff_user, token_hash, expires_at, revoked_at OR DELETE OR TRUNCATE",
    "staff_user": "UPDATE OF email, display_name, role, active, site, structure OR DELETE OR TRUNCATE",
    "coordinator_territory": "INSERT OR UPDATE OR DELETE OR TRUNCATE",
}
# Sites and structures are edited far more often than moved: only a move notifies.
_MOVES = ("partner_site", "distributing_structure")

POSTGRES = [
    "CREATE FUNCTION pn_auth_changed() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN "
    "PERFORM pg_notify('pn_auth_changed', ''); RETURN NULL; END $$",
    *(
        f"CREATE TRIGGER {table}_auth_changed AFTER {events} ON {table} "
        "FOR EACH STATEMENT EXECUTE FUNCTION pn_auth_changed()"
        for table, events in _STATEMENT_TRIGGERS.items()
    ),
    *(
        f"CREATE TRIGGER {table}_auth_changed AFTER UPDATE OF territory ON {table} FOR EACH ROW "
        "WHEN (OLD.territory IS DISTINCT FROM NEW.territory) EXECUTE FUNCTION pn_auth_changed()"
        for table in _MOVES
    ),
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
