"""Idempotency that cannot lie, and abuse limits (docs/security.md).

- ``idempotency_record.fingerprint``: a hash of the request a stored answer belongs to, so the
  same request id sent with another body is refused instead of replaying the first answer
  (empty for the rows stored before: they keep replaying as they did).
- ``login_failure.client_hash``: a keyed hash of the client address that failed, so sign-in is
  limited per client as well as per account.
- ``scan_attempt (agent, at)`` and ``(site, at)``: the failed look-ups and redemptions of an agent
  or a site within the last minutes are counted before each new one.
"""

from piccolo.apps.migrations.auto.migration_manager import MigrationManager
from piccolo.columns.column_types import Varchar
from piccolo.columns.indexes import IndexMethod
from piccolo.engine.finder import engine_finder

ID = "2026-12-03T07:31:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "request fingerprints, sign-in failures per client, scan attempts per agent and site"

_VARCHAR_64 = {
    "length": 64,
    "default": "",
    "null": False,
    "primary_key": False,
    "unique": False,
    "index_method": IndexMethod.btree,
    "choices": None,
    "db_column_name": None,
    "secret": False,
}

INDEXES = [
    "CREATE INDEX scan_attempt_agent_at ON scan_attempt (agent, at)",
    "CREATE INDEX scan_attempt_site_at ON scan_attempt (site, at)",
]


async def forwards():
    manager = MigrationManager(migration_id=ID, app_name="pass_numerique", description=DESCRIPTION)

    manager.add_column(
        table_class_name="IdempotencyRecord",
        tablename="idempotency_record",
        column_name="fingerprint",
        db_column_name="fingerprint",
        column_class_name="Varchar",
        column_class=Varchar,
        params={**_VARCHAR_64, "index": False},
        schema=None,
    )
    manager.add_column(
        table_class_name="LoginFailure",
        tablename="login_failure",
        column_name="client_hash",
        db_column_name="client_hash",
        column_class_name="Varchar",
        column_class=Varchar,
        params={**_VARCHAR_64, "index": True},
        schema=None,
    )

    async def run_sql():
        engine = engine_finder()
        for statement in INDEXES:
            await engine.run_ddl(statement)

    manager.add_raw(run_sql)
    return manager
