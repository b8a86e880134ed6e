"""Figures per territory for everyone, without login (``/statistiques``, ``GET /api/v1/public/statistics``).

The same figures as a report over every territory (``EVERYTHING``), with small counts
suppressed: a count from 1 to 4 could single someone out (docs/reports.md, "Public statistics").
"""

from __future__ import annotations

from datetime import date, datetime

import msgspec

from pass_numerique.db.transaction import read_snapshot
from pass_numerique.domain.clock import utcnow
from pass_numerique.domain.reports import booklet_rollups, redemption_rollups
from pass_numerique.domain.reports.figures import ReportFilter, rate
from pass_numerique.domain.reports.scope import EVERYTHING, booklet_selection, redemption_selection, window_of
from pass_numerique.domain.tables import Territory

SMALL_COUNT = 5


class PublicTerritory(msgspec.Struct, kw_only=True):
    """One territory's figures; a count from 1 to 4 is suppressed (None) so no one can be singled out."""

    territory_id: int
    territory_name: str
    booklets_issued: int | None
    booklets_started: int | None
    vouchers_issued: int | None
    vouchers_redeemed: int | None
    usage_rate: float | None
    activation_rate: float | None


class PublicStatistics(msgspec.Struct, kw_only=True):
    start: date
    end: date
    suppressed_below: int
    territories: list[PublicTerritory]


def suppress(count: int) -> int | None:
    """Small-count suppression: 1 to 4 become None; zero is shown (it singles no one out)."""
    return None if 0 < count < SMALL_COUNT else count


async def public_statistics(
    start: date | None = None, end: date | None = None, *, now: datetime | None = None
) -> PublicStatistics:
    """Aggregated figures per territory for anyone, with small counts suppressed (no totals row,
    so a suppressed cell cannot be recovered by subtraction)."""
    flt = ReportFilter(start=start, end=end)
    period = window_of(flt, now or utcnow())
    async with read_snapshot():
        figures = await booklet_rollups.booklet_figures(booklet_selection(EVERYTHING, flt, period))
        funnel = booklet_rollups.sum_stages(figures.stages, "territory")
        counts = await redemption_rollups.redemption_counts(
            ["booklet_territory"], redemption_selection(EVERYTHING, flt, period, by_site=False)
        )
        territories = await Territory.select(Territory.id, Territory.name).order_by(Territory.name)
    redeemed = {r["booklet_territory"]: r["count"] for r in counts}
    rows = []
    for territory in territories:
        tid = territory["id"]
        stage = funnel.get(tid, {})
        raw = {
            "booklets_issued": stage.get("issued", 0),
            "booklets_started": stage.get("started", 0),
            "vouchers_issued": stage.get("vouchers_issued", 0),
            "vouchers_redeemed": redeemed.get(tid, 0),
        }
        shown = {name: suppress(value) for name, value in raw.items()}
        if shown["booklets_issued"] is None:
            # Vouchers come ten (or N) to a booklet: their count would give the hidden one away.
            shown["vouchers_issued"] = None
        rows.append(
            PublicTerritory(
                territory_id=tid,
                territory_name=territory["name"],
                **shown,
                usage_rate=rate(shown["vouchers_redeemed"], shown["vouchers_issued"]),
                activation_rate=rate(shown["booklets_started"], shown["booklets_issued"]),
            )
        )
    return PublicStatistics(
        start=period.start, end=period.end, suppressed_below=SMALL_COUNT, territories=rows
    )
