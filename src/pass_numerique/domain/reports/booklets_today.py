"""Figures relative to today, read from the booklets themselves: no monthly rollup can hold them.

The sleeping stock's ages (booklets allocated to a structure and not issued, days since their
allocation) and the booklets with unused vouchers expiring within 30 and 60 days. Each read
walks a partial index holding every column it needs (``booklet_sleeping``,
``booklet_issued_valid_until``).
"""

from __future__ import annotations

from datetime import date, datetime, timedelta

import msgspec

from pass_numerique.db import dialect
from pass_numerique.domain.reports import booklet_rollups
from pass_numerique.domain.reports.figures import ExpiringBooklet, ReportFilter, median
from pass_numerique.domain.reports.rollup_sql import BoundSql
from pass_numerique.domain.reports.scope import Scope
from pass_numerique.domain.states import BookletStatus
from pass_numerique.domain.tables import Booklet

EXPIRING_LIST_LIMIT = 500


async def sleeping_ages(
    sel: booklet_rollups.BookletSelection, now: datetime, structures: list[int] | None
) -> dict[int, tuple[int, float]]:
    """``{structure: (oldest, median age in days)}`` of booklets allocated and not issued.

    ``structures``: only these (a page of the table); None: every structure.
    """
    if structures == []:
        return {}
    sql = BoundSql()
    now_sql = dialect.timestamp_parameter(sql.bind(now))
    # The status is written out, not bound: a generic plan could not use the partial index
    # booklet_sleeping (status = 'allocated') for a bound value.
    conditions = [
        f"b.status = '{BookletStatus.allocated.value}'",
        "b.structure IS NOT NULL",
        "b.allocated_at IS NOT NULL",
        *booklet_rollups.scope_conditions(sql, sel),
    ]
    if structures is not None:
        # The index booklet_sleeping leads with the structure: one short range per structure.
        conditions.append(f"b.structure IN ({sql.bind_all(structures)})")
    age = dialect.whole_days_between(now_sql, "b.allocated_at")
    # A histogram per structure (a few dozen ages each), its median computed here like the
    # time to first use's: one median for both figures on both engines.
    rows = await Booklet.raw(
        f"SELECT b.structure AS structure, {age} AS age, COUNT(*) AS booklets FROM booklet b "  # noqa: S608
        f"WHERE {' AND '.join(conditions)} GROUP BY 1, 2",
        *sql.params,
    )
    histograms: dict[int, dict[int, int]] = {}
    for row in rows:
        histograms.setdefault(row["structure"], {})[int(row["age"])] = int(row["booklets"])
    return {sid: (max(h), median(h) or 0.0) for sid, h in histograms.items()}


class Expiring(msgspec.Struct):
    """One territory's booklets and unused vouchers expiring within 30 and within 60 days."""

    booklets_30: int = 0
    booklets_60: int = 0
    vouchers_30: int = 0
    vouchers_60: int = 0


async def expiring_by_territory(sel: booklet_rollups.BookletSelection) -> dict[int, Expiring]:
    """Issued booklets with unused vouchers expiring within 30 and 60 days, and those vouchers.

    Date-relative, so read from the booklets themselves: a partial index of issued booklets by
    end of validity holds every column this needs. Grouped by territory and a within-30-days
    flag (two rows a territory), not summed through conditions: half the work on 10 M vouchers.
    """
    sql = BoundSql()
    within_30 = f"b.valid_until <= {sql.bind(sel.today + timedelta(days=30))}"
    conditions = [
        "b.status = 'issued'",
        "b.used_count < b.voucher_count",
        f"b.valid_until >= {sql.bind(sel.today)}",
        f"b.valid_until <= {sql.bind(sel.today + timedelta(days=60))}",
        *booklet_rollups.scope_conditions(sql, sel),
    ]
    rows = await Booklet.raw(
        f"SELECT b.territory AS territory, {within_30} AS within_30, COUNT(*) AS booklets, "  # noqa: S608
        "SUM(b.voucher_count - b.used_count) AS vouchers "
        f"FROM booklet b{dialect.indexed_by('booklet_issued_valid_until')} "
        f"WHERE {' AND '.join(conditions)} GROUP BY 1, 2",
        *sql.params,
    )
    out: dict[int, Expiring] = {}
    for row in rows:
        into = out.setdefault(row["territory"], Expiring())
        booklets, vouchers = int(row["booklets"]), int(row["vouchers"])
        into.booklets_60 += booklets
        into.vouchers_60 += vouchers
        if row["within_30"]:
            into.booklets_30 += booklets
            into.vouchers_30 += vouchers
    return out


async def expiring_booklets(scope: Scope, flt: ReportFilter, today: date) -> list[ExpiringBooklet]:
    """Issued booklets with unused vouchers expiring in the next 60 days, soonest first."""
    where = (
        (Booklet.status == BookletStatus.issued)
        & (Booklet.used_count < Booklet.voucher_count)
        & (Booklet.valid_until >= today)
        & (Booklet.valid_until <= today + timedelta(days=60))
    )
    if scope.territories is not None:
        where &= Booklet.territory.is_in(scope.territories or [0])
    if flt.programme_id is not None:
        where &= Booklet.programme == flt.programme_id
    rows = (
        await Booklet.select(
            Booklet.serial, Booklet.territory, Booklet.valid_until, Booklet.voucher_count, Booklet.used_count
        )
        .where(where)
        .order_by(Booklet.valid_until)
        .order_by(Booklet.serial)
        .limit(EXPIRING_LIST_LIMIT)
    )
    return [
        ExpiringBooklet(
            serial=r["serial"],
            territory_id=r["territory"],
            valid_until=r["valid_until"],
            unused=r["voucher_count"] - r["used_count"],
        )
        for r in rows
    ]
