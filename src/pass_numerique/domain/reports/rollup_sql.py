"""What the two report rollups (redemptions, booklets) share: statements with bound values,
the whole months of a period, and a fold that starts again from a new snapshot."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import date, timedelta
from typing import Any, TypeVar

from pass_numerique.db.dialect import is_serialization_failure
from pass_numerique.domain.clock import add_months

T = TypeVar("T")
FOLD_ATTEMPTS = 5


class BoundSql:
    """A statement under construction with Piccolo's ``{}`` placeholders: values are bound in
    the order the SQL text uses them."""

    def __init__(self) -> None:
        self.params: list[Any] = []

    def bind(self, value: Any) -> str:
        self.params.append(value)
        return "{}"

    def bind_all(self, values: list[Any]) -> str:
        return ", ".join(self.bind(v) for v in values or [0])


def whole_months(start: date, end: date, today: date) -> tuple[date, date] | None:
    """First and last day of the run of whole months inside ``start``..``end``, if any.

    Nothing is dated after today: a month that ends later is whole once it has begun.
    """
    first = start if start.day == 1 else add_months(start.replace(day=1), 1)
    last_month = end.replace(day=1)
    if add_months(last_month, 1) - timedelta(days=1) > end and end < today:
        last_month = add_months(last_month, -1)
    if first > last_month:
        return None
    return first, add_months(last_month, 1) - timedelta(days=1)


async def with_fresh_snapshots(fold_once: Callable[[], Awaitable[T]]) -> T:
    """Run a fold; on PostgreSQL, when a row it read changed before it committed (a serialization
    failure), run it again from a new snapshot, up to ``FOLD_ATTEMPTS`` times."""
    for attempt in range(FOLD_ATTEMPTS):
        try:
            return await fold_once()
        except Exception as exc:
            if not is_serialization_failure(exc) or attempt == FOLD_ATTEMPTS - 1:
                raise
    raise AssertionError("unreachable")
