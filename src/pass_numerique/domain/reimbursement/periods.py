"""Reimbursement periods: calendar months that can be closed, freezing their statements."""

from __future__ import annotations

from datetime import datetime

from pass_numerique.domain.clock import month_of
from pass_numerique.domain.tables import ReimbursementPeriod


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
