"""Integrity the ORM cannot declare: partial and composite unique indexes, checks, append-only audit.

The unique partial index on live redemptions is the backstop of exactly-once
redemption: whatever the code does, the database refuses a second live
redemption of one voucher.
"""

from piccolo.apps.migrations.auto.migration_manager import MigrationManager
from piccolo.engine.finder import engine_finder

ID = "2026-11-23T12:15:31:000000"
VERSION = "1.38.0"
DESCRIPTION = "integrity constraints and append-only audit"

COMMON = [
    "CREATE UNIQUE INDEX redemption_one_live_per_voucher ON redemption (voucher) WHERE undone_at IS NULL",
    "CREATE UNIQUE INDEX voucher_booklet_number ON voucher (booklet, number)",
    "CREATE UNIQUE INDEX coordinator_territory_pair ON coordinator_territory (staff_user, territory)",
    "CREATE INDEX redemption_site_period ON redemption (site, period)",
    "CREATE INDEX booklet_territory_status ON booklet (territory, status)",
    "CREATE INDEX audit_event_object ON audit_event (object_type, object_id)",
]

SQLITE = [
    "CREATE TRIGGER audit_event_no_update BEFORE UPDATE ON audit_event "
    "BEGIN SELECT RAISE(ABORT, 'audit_event is append-only'); END",
    "CREATE TRIGGER audit_event_no_delete BEFORE DELETE ON audit_event "
    "BEGIN SELECT RAISE(ABORT, 'audit_event is append-only'); END",
]

POSTGRES = [
    "ALTER TABLE voucher ADD CONSTRAINT voucher_status_check "
    "CHECK (status IN ('available', 'redeemed', 'cancelled'))",
    "ALTER TABLE voucher ADD CONSTRAINT voucher_face_value_positive CHECK (face_value_cents > 0)",
    "ALTER TABLE booklet ADD CONSTRAINT booklet_status_check "
    "CHECK (status IN ('printed', 'allocated', 'issued', 'cancelled'))",
    "ALTER TABLE staff_user ADD CONSTRAINT staff_user_role_check "
    "CHECK (role IN ('admin', 'coordinator', 'issuer', 'site_agent', 'viewer'))",
    """CREATE FUNCTION audit_event_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
       BEGIN RAISE EXCEPTION 'audit_event is append-only'; END $$""",
    "CREATE TRIGGER audit_event_append_only BEFORE UPDATE OR DELETE ON audit_event "
    "FOR EACH ROW EXECUTE FUNCTION audit_event_append_only()",
]


async def forwards():
    manager = MigrationManager(migration_id=ID, app_name="pass_numerique", description=DESCRIPTION)

    async def run_sql():
        engine = engine_finder()
        specific = SQLITE if engine.engine_type == "sqlite" else POSTGRES
        for statement in COMMON + specific:
            await engine.run_ddl(statement)

    manager.add_raw(run_sql)
    return manager
