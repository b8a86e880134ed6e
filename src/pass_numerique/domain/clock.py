"""The current time, in UTC and in the département's local calendar."""

from __future__ import annotations

from datetime import UTC, date, datetime
from functools import lru_cache
from zoneinfo import ZoneInfo

from pass_numerique.settings import get_settings


@lru_cache(maxsize=1)
def local_zone() -> ZoneInfo:
    return ZoneInfo(get_settings().timezone)


def utcnow() -> datetime:
    return datetime.now(UTC)


def local_date(moment: datetime) -> date:
    """The calendar day of ``moment`` in the département's time zone."""
    return moment.astimezone(local_zone()).date()


def month_of(moment: datetime) -> str:
    """``YYYY-MM`` of ``moment`` in local time: the reimbursement period it falls in."""
    return local_date(moment).strftime("%Y-%m")


def add_months(day: date, months: int) -> date:
    """``day`` plus ``months`` calendar months, clamped to the month's last day."""
    month_index = day.month - 1 + months
    year, month = day.year + month_index // 12, month_index % 12 + 1
    for candidate in (31, 30, 29, 28):
        try:
            return date(year, month, min(day.day, candidate))
        except ValueError:
            continue
    raise AssertionError("unreachable")
