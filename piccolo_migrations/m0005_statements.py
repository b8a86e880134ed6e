"""Reimbursement statements: the payment of a partner site's statement for a closed month.

Hand-written (the auto migrations are unreliable on SQLite). One payment per
statement is enforced by the unique ``statement_key`` (``site id:month``).
"""

from piccolo.apps.migrations.auto.migration_manager import MigrationManager
from piccolo.columns.base import OnDelete, OnUpdate
from piccolo.columns.column_types import ForeignKey, Integer, Serial, Timestamptz, Varchar
from piccolo.columns.defaults.timestamptz import TimestamptzNow
from piccolo.columns.indexes import IndexMethod
from piccolo.table import Table


class PartnerSite(Table, tablename="partner_site", schema=None):
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


ID = "2026-11-24T00:00:03:000000"
VERSION = "1.38.0"
DESCRIPTION = "reimbursement statements: payments"

_COMMON = {
    "primary_key": False,
    "index_method": IndexMethod.btree,
    "choices": None,
    "db_column_name": None,
    "secret": False,
}


def _foreign_key(references: type[Table], *, null: bool, index: bool) -> dict:
    return {
        **_COMMON,
        "references": references,
        "on_delete": OnDelete.restrict,
        "on_update": OnUpdate.cascade,
        "target_column": None,
        "null": null,
        "unique": False,
        "index": index,
    }


COLUMNS = [
    ("site", ForeignKey, _foreign_key(PartnerSite, null=False, index=True)),
    (
        "month",
        Varchar,
        {**_COMMON, "length": 7, "default": "", "null": False, "unique": False, "index": False},
    ),
    (
        "statement_key",
        Varchar,
        {**_COMMON, "length": 24, "default": "", "null": False, "unique": True, "index": False},
    ),
    ("voucher_count", Integer, {**_COMMON, "default": 0, "null": False, "unique": False, "index": False}),
    ("total_cents", Integer, {**_COMMON, "default": 0, "null": False, "unique": False, "index": False}),
    (
        "payment_reference",
        Varchar,
        {**_COMMON, "length": 100, "default": "", "null": False, "unique": False, "index": False},
    ),
    (
        "paid_at",
        Timestamptz,
        {**_COMMON, "default": TimestamptzNow(), "null": False, "unique": False, "index": False},
    ),
    ("paid_by", ForeignKey, _foreign_key(StaffUser, null=True, index=False)),
]


async def forwards():
    manager = MigrationManager(migration_id=ID, app_name="pass_numerique", description=DESCRIPTION)

    manager.add_table(class_name="StatementPayment", tablename="statement_payment", schema=None, columns=None)
    for name, column_class, params in COLUMNS:
        manager.add_column(
            table_class_name="StatementPayment",
            tablename="statement_payment",
            column_name=name,
            db_column_name=name,
            column_class_name=column_class.__name__,
            column_class=column_class,
            params=params,
            schema=None,
        )

    return manager
