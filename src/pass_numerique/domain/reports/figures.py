"""What a report holds: the filter asked for, the figures given back, and the two values derived
from counts (a rate, the median of a histogram).

Definitions of each figure are in docs/reports.md; where each comes from is in this package's
docstring (``domain/reports/__init__.py``).
"""

from __future__ import annotations

from datetime import date

import msgspec

from pass_numerique.domain import bounds

FIRST_USE_BUCKETS: tuple[tuple[str, int, int | None], ...] = (
    ("moins de 8 jours", 0, 7),
    ("8 à 30 jours", 8, 30),
    ("31 à 90 jours", 31, 90),
    ("91 à 180 jours", 91, 180),
    ("plus de 180 jours", 181, None),
)


class ReportFilter(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    """Which figures: a date range (local days, both included) and optional filters."""

    start: date | None = None
    """Default: the first day of the month eleven months before ``end``'s (twelve calendar months)."""
    end: date | None = None
    """Default: today."""
    territory_id: bounds.Id | None = None
    site_id: bounds.Id | None = None
    programme_id: bounds.Id | None = None
    theme: bounds.Value | None = None


class Totals(msgspec.Struct, kw_only=True):
    """Headline figures. Booklet-side figures are None for a site agent (not their data)."""

    booklets_printed: int | None
    booklets_allocated: int | None
    booklets_issued: int | None
    booklets_started: int | None
    """Issued booklets with at least one voucher used (« entamés »)."""
    booklets_fully_used: int | None
    booklets_sleeping: int | None
    """Allocated to a structure and not issued, today."""
    vouchers_issued: int | None
    vouchers_redeemed: int
    vouchers_cancelled: int | None
    vouchers_replaced: int | None
    vouchers_expired_unused: int | None
    amount_redeemed_cents: int
    usage_rate: float | None
    """vouchers_redeemed / vouchers_issued."""
    activation_rate: float | None
    """booklets_started / booklets_issued."""


class TerritoryFunnel(msgspec.Struct, kw_only=True):
    territory_id: int
    territory_name: str
    printed: int
    allocated: int
    issued: int
    started: int
    fully_used: int
    sleeping: int
    vouchers_issued: int
    vouchers_redeemed: int
    usage_rate: float | None
    activation_rate: float | None


class StructureFunnel(msgspec.Struct, kw_only=True):
    structure_id: int
    structure_name: str
    territory_id: int
    allocated: int
    issued: int
    started: int
    fully_used: int
    sleeping: int
    """Booklets allocated to the structure and not issued, today."""
    oldest_sleeping_days: int | None
    median_sleeping_days: float | None


class SiteFigures(msgspec.Struct, kw_only=True):
    site_id: int
    site_name: str
    territory_id: int
    vouchers_redeemed: int
    beneficiaries: int
    amount_cents: int
    themes: dict[str, int]


class CountRow(msgspec.Struct, kw_only=True):
    key: str
    label: str
    count: int


class Bucket(msgspec.Struct, kw_only=True):
    label: str
    min_days: int
    max_days: int | None
    count: int


class FirstUse(msgspec.Struct, kw_only=True):
    """Days from issuance to the first voucher used, over booklets issued in the period."""

    booklets: int
    median_days: float | None
    buckets: list[Bucket]


class CrossTerritory(msgspec.Struct, kw_only=True):
    booklet_territory_id: int
    site_territory_id: int
    vouchers_redeemed: int


class ExpiringTerritory(msgspec.Struct, kw_only=True):
    territory_id: int
    territory_name: str
    booklets_30_days: int
    booklets_60_days: int
    vouchers_30_days: int
    vouchers_60_days: int


class ExpiringBooklet(msgspec.Struct, kw_only=True):
    """A pseudonymous booklet serial only: staff find the person through their own records."""

    serial: str
    territory_id: int
    valid_until: date
    unused: int


class Cohort(msgspec.Struct, kw_only=True):
    """The funnel as a cohort: the booklets printed in the period, and how far each of them went.

    Each step counts booklets of the previous one, so it never exceeds it (docs/reports.md).
    """

    printed: int
    """Booklets created in the period (print runs and on demand), replacements excluded."""
    left_stock: int
    """Of them: handed to a distributing structure, or issued directly at a desk."""
    issued: int
    """Of them: issued to a beneficiary (whenever, up to now)."""
    started: int
    """Of them: at least one voucher used (live redemption)."""
    fully_used: int
    """Of them: every voucher used."""


class SiteTotals(msgspec.Struct, kw_only=True):
    """The per-site table's total row, over every site in scope (not only the page shown), and how
    it reconciles with ``totals.vouchers_redeemed``:
    ``vouchers_redeemed = totals.vouchers_redeemed - used_elsewhere + from_elsewhere``."""

    vouchers_redeemed: int
    amount_cents: int
    from_elsewhere: int
    """Vouchers used at the sites in scope from booklets of territories out of scope."""
    used_elsewhere: int
    """Vouchers of the booklets in scope used at sites of territories out of scope."""


class Report(msgspec.Struct, kw_only=True):
    start: date
    end: date
    today: date
    filters: ReportFilter
    scope: str
    """``all``, ``territories`` or ``site``: what the figures cover for this actor."""
    totals: Totals
    territories: list[TerritoryFunnel]
    structures: list[StructureFunnel]
    """The page of distributing structures asked for (all by default), most sleeping stock first."""
    structures_total: int
    sites: list[SiteFigures]
    """The page of sites asked for (all by default), most vouchers first."""
    sites_total: int
    site_totals: SiteTotals
    cohort: Cohort | None
    """None for a site agent, who sees no booklet figures."""
    first_use: FirstUse | None
    by_month: list[CountRow]
    by_theme: list[CountRow]
    by_age_band: list[CountRow]
    cross_territory: list[CrossTerritory]
    expiring: list[ExpiringTerritory]
    expiring_booklets: list[ExpiringBooklet]


def rate(numerator: int | None, denominator: int | None) -> float | None:
    """``numerator / denominator`` to four decimals; None when either is unknown or nothing is divided."""
    if numerator is None or not denominator:
        return None
    return round(numerator / denominator, 4)


def median(histogram: dict[int, int]) -> float | None:
    """Median of a ``{value: count}`` histogram (mean of the two middle values when even).

    The one median of the reports: the time to first use and the sleeping stock's age both come
    from the database as histograms (at most a few hundred values each).
    """
    total = sum(histogram.values())
    if not total:
        return None
    middle = [(total - 1) // 2, total // 2]
    values: list[int] = []
    seen = 0
    for value in sorted(histogram):
        count = histogram[value]
        values += [value for index in middle if seen <= index < seen + count]
        seen += count
    return sum(values) / len(values)


def first_use_buckets(histogram: dict[int, int]) -> list[Bucket]:
    """The ``{days: booklets}`` histogram of the time to first use, in the dashboard's buckets."""
    return [
        Bucket(
            label=label,
            min_days=low,
            max_days=high,
            count=sum(n for days, n in histogram.items() if days >= low and (high is None or days <= high)),
        )
        for label, low, high in FIRST_USE_BUCKETS
    ]
