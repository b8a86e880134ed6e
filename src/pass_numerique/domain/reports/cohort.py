"""The booklet funnel as a cohort: the booklets printed in the period, and how far they went.

The figures of ``booklet_rollups`` count events in the period (booklets printed, allocated,
issued in it), so a funnel drawn from them mixes booklets: six printed, none allocated and
thirty-five issued in one year, the issued ones printed the year before. Here every step is a
subset of the previous one: of the booklets created in the period (print runs and booklets
issued on demand, replacements excluded), those that left the stock (allocated to a structure or
issued at a desk), those issued, those with a voucher used, those fully used, as of now.

Read from the booklets themselves (index ``booklet_created_at``) in one statement: the period's
booklets are scanned once and each step is a conditional count, within the report's snapshot; no
rollup holds "printed in this period and issued since".
"""

# ruff: noqa: S608 (the statement is built from constant fragments; values are bound)
from __future__ import annotations

from pass_numerique.domain.reports.booklet_rollups import (
    REPLACEMENTS_JOIN,
    BookletSelection,
    scope_conditions,
    within_days,
)
from pass_numerique.domain.reports.figures import Cohort
from pass_numerique.domain.reports.rollup_sql import BoundSql
from pass_numerique.domain.tables import Booklet


async def cohort(sel: BookletSelection) -> Cohort:
    """The booklets created in ``sel``'s days, in its scope, and how many reached each step."""
    sql = BoundSql()
    # Replacements are left out: their vouchers were counted with the booklet they replace.
    conditions = [
        within_days(sql, "created_at", [(sel.start, sel.end)]),
        "x.id IS NULL",
        *scope_conditions(sql, sel),
    ]
    issued = "b.issued_at IS NOT NULL"
    started = f"{issued} AND b.used_count > 0"
    steps = {
        "left_stock": "(b.allocated_at IS NOT NULL OR b.issued_at IS NOT NULL)",
        "issued": issued,
        "started": started,
        "fully_used": f"{started} AND b.used_count >= b.voucher_count",
    }
    counts = ", ".join(f"SUM(CASE WHEN {where} THEN 1 ELSE 0 END) AS {name}" for name, where in steps.items())
    rows = await Booklet.raw(
        f"SELECT COUNT(*) AS printed, {counts} FROM booklet b {REPLACEMENTS_JOIN} "
        f"WHERE {' AND '.join(conditions)}",
        *sql.params,
    )
    return Cohort(**{name: int(value or 0) for name, value in rows[0].items()})
