"""Reimbursement periods: calendar months that can be closed, freezing their statements."""

from __future__ import annotations

from datetime import date, datetime

from pass_numerique.domain.actors import MANAGERS, Actor
from pass_numerique.domain.clock import local_date, month_of, utcnow
from pass_numerique.domain.reports.redemption_rollups import Selection, redemption_counts
from pass_numerique.domain.tables import ReimbursementPeriod

FIRST_DAY = date(2020, 1, 1)
"""Before any redemption of the scheme: where the search for months to close starts."""


def next_month(month: str) -> str:
    year, number = int(month[:4]), int(month[5:])
    return f"{year + number // 12}-{number % 12 + 1:02d}"


async def closed_months() -> set[str]:
    rows = await ReimbursementPeriod.select(ReimbursementPeriod.month).where(
        ReimbursementPeriod.closed_at.is_not_null()
    )
    return {r["month"] for r in rows}


async def open_period_for(moment: datetime) -> str:
    """The month a redemption at ``moment`` is paid in: its own, or the next open one if closed.

    A late upload or an undo after closing never rewrites a closed period.
    """
    month = month_of(moment)
    closed = await closed_months()
    while month in closed:
        month = next_month(month)
    return month


async def is_closed(month: str) -> bool:
    return await ReimbursementPeriod.exists().where(
        (ReimbursementPeriod.month == month) & ReimbursementPeriod.closed_at.is_not_null()
    )


async def months_to_close(actor: Actor, *, now: datetime | None = None) -> list[str]:
    """Past months that hold live redemptions and are not closed yet, oldest first: the
    coordinators' monthly task (closing freezes a month's statements for the whole département)."""
    actor.require_role(*MANAGERS)
    now = now or utcnow()
    today = local_date(now)
    current = month_of(now)
    # A redemption's period is never before its own month: today's cannot fall in a past month.
    rows = await redemption_counts(["period"], Selection(start=FIRST_DAY, end=today, today=today))
    closed = await closed_months()
    return sorted(r["period"] for r in rows if r["period"] < current and r["period"] not in closed)
