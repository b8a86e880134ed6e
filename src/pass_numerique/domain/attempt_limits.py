"""Sliding-window limits on failed attempts: the one way sign-in and the scanner count failures.

A limit is "at most ``limit`` failures within ``window``", counted over rows the failures leave
(``login_failure``, ``scan_attempt``). The answer past it is ``too_many_attempts`` with how many
seconds to wait (``retry_after``, sent as the ``Retry-After`` header): until the oldest of the
last ``limit`` failures leaves the window.
"""

from __future__ import annotations

import math
from datetime import datetime, timedelta

from piccolo.columns import Timestamptz
from piccolo.columns.combination import Combinable

from pass_numerique.domain.errors import DomainError


async def seconds_to_wait(
    at: Timestamptz, failures: Combinable, *, limit: int, window: timedelta, now: datetime
) -> int | None:
    """How long to wait before one more attempt when the rows matching ``failures`` (timed by
    ``at``) reach ``limit`` within ``window``; None while they don't."""
    # The limit-th latest failure: while it is in the window, so are `limit` failures.
    row = (
        await at._meta.table.select(at)
        .where(failures & (at > now - window))
        .order_by(at, ascending=False)
        .offset(limit - 1)
        .first()
    )
    if row is None:
        return None
    return max(1, math.ceil((row[at._meta.name] + window - now).total_seconds()))


def too_many_attempts(seconds: int) -> DomainError:
    """The refusal past a limit, with the wait in French and in ``retry_after`` (seconds)."""
    wait = f"{math.ceil(seconds / 60)} min" if seconds > 60 else f"{seconds} s"
    return DomainError(
        "too_many_attempts",
        f"Trop de tentatives en peu de temps : réessayez dans {wait}.",
        retry_after=seconds,
    )
