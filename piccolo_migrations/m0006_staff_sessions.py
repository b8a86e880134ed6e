"""Staff sessions: server-side browser sessions of the staff pages (hand-written)."""

from piccolo.apps.migrations.auto.migration_manager import MigrationManager
from piccolo.columns.base import OnDelete, OnUpdate
from piccolo.columns.column_types import ForeignKey, Serial, Timestamptz, Varchar
from piccolo.columns.defaults.timestamptz import TimestamptzNow
from piccolo.columns.indexes import IndexMethod
from piccolo.table import Table


class StaffUser(Table, tablename="staff_user", schema=None):
    id = Serial(
        null=False,
        primary_key=True,
        unique=False,
        index=False,
        index_method=IndexMethod.btree,
        choices=None,
        db_column_name="id",
        secret=False,
    )


ID = "2026-11-24T00:00:04:000000"
VERSION = "1.38.0"
DESCRIPTION = "staff sessions: cookie sessions of the staff pages"


def _params(**values: object) -> dict[str, object]:
    base: dict[str, object] = {
        "null": False,
        "primary_key": False,
        "unique": False,
        "index": False,
        "index_method": IndexMethod.btree,
        "choices": None,
        "db_column_name": None,
        "secret": False,
    }
    return {**base, **values}


def _column(manager: MigrationManager, name: str, column_class: type, params: dict) -> None:
    manager.add_column(
        table_class_name="StaffSession",
        tablename="staff_session",
        column_name=name,
        db_column_name=name,
        column_class_name=column_class.__name__,
        column_class=column_class,
        params=params,
        schema=None,
    )


async def forwards():
    manager = MigrationManager(migration_id=ID, app_name="pass_numerique", description=DESCRIPTION)
    manager.add_table(class_name="StaffSession", tablename="staff_session", schema=None, columns=None)
    _column(
        manager,
        "staff_user",
        ForeignKey,
        _params(
            references=StaffUser,
            on_delete=OnDelete.restrict,
            on_update=OnUpdate.cascade,
            target_column=None,
            index=True,
        ),
    )
    _column(manager, "session_hash", Varchar, _params(length=64, default="", unique=True))
    _column(manager, "created_at", Timestamptz, _params(default=TimestamptzNow()))
    _column(manager, "last_seen_at", Timestamptz, _params(default=TimestamptzNow()))
    _column(manager, "expires_at", Timestamptz, _params(default=TimestamptzNow(), index=True))
    return manager
