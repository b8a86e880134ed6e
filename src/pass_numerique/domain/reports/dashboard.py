"""Reports: issued versus used, per territory, structure, partner site and period.

Every figure is an aggregate the database computes; Python only assembles the grouped rows.
Redemption figures come from the monthly rollups plus the rows not folded yet
(``report_rollups``); booklet figures likewise from the funnel rollup (``booklet_rollups``),
whose counts of use read the usage columns kept by redemption and undo (``booklet_usage``).
Definitions are in docs/reports.md; the scope of each role is applied in ``_scope``.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Any

import msgspec
from piccolo.columns import Column

from pass_numerique.db import dialect
from pass_numerique.db.dialect import indexed_by
from pass_numerique.db.transaction import read_snapshot, side_by_side
from pass_numerique.domain.actors import Actor, Role
from pass_numerique.domain.clock import add_months, local_date, local_zone, utcnow
from pass_numerique.domain.errors import DomainError, not_found
from pass_numerique.domain.reports import booklet_rollups, report_rollups
from pass_numerique.domain.reports.rollup_sql import BoundSql
from pass_numerique.domain.scheme import value_lists
from pass_numerique.domain.states import BookletStatus
from pass_numerique.domain.tables import Booklet, DistributingStructure, Territory

EXPIRING_LIST_LIMIT = 500
SMALL_COUNT = 5
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
    territory_id: int | None = None
    site_id: int | None = None
    programme_id: int | None = None
    theme: str | None = None


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
    first_use: FirstUse | None
    by_month: list[CountRow]
    by_theme: list[CountRow]
    by_age_band: list[CountRow]
    cross_territory: list[CrossTerritory]
    expiring: list[ExpiringTerritory]
    expiring_booklets: list[ExpiringBooklet]


class _Scope(msgspec.Struct, kw_only=True):
    territories: list[int] | None
    """None: every territory."""
    site_id: int | None
    booklets: bool
    serials: bool
    label: str


class _Window(msgspec.Struct, kw_only=True):
    start: date
    end: date
    since: datetime
    until: datetime
    today: date


# ---------------------------------------------------------------------------
# scope and window


REPORT_ROLES = (Role.admin, Role.coordinator, Role.issuer, Role.site_agent, Role.viewer)


def _scope(actor: Actor, flt: ReportFilter) -> _Scope:
    """What this actor may see of the figures, narrowed by the filters."""
    actor.require_role(*REPORT_ROLES)
    if actor.role == Role.site_agent:
        if flt.site_id is not None and flt.site_id != actor.site_id:
            raise not_found("Lieu")
        return _Scope(
            territories=None, site_id=actor.site_id or 0, booklets=False, serials=False, label="site"
        )
    everything = actor.role in (Role.admin, Role.viewer)
    if flt.territory_id is not None:
        if not everything and flt.territory_id not in actor.territory_ids:
            raise not_found("Territoire")
        territories: list[int] | None = [flt.territory_id]
    else:
        territories = None if everything else sorted(actor.territory_ids)
    return _Scope(
        territories=territories,
        site_id=None,
        booklets=True,
        serials=actor.role != Role.viewer,
        label="all" if everything else "territories",
    )


def _window(flt: ReportFilter, now: datetime) -> _Window:
    today = local_date(now)
    end = flt.end or today
    # Whole months by default (this month and the eleven before): the rollups answer them alone.
    start = flt.start or add_months(end.replace(day=1), -11)
    if start > end:
        raise DomainError("invalid_input", "La date de début doit précéder la date de fin.", field="start")
    zone = local_zone()
    since = datetime.combine(start, datetime.min.time(), tzinfo=zone)
    until = datetime.combine(end + timedelta(days=1), datetime.min.time(), tzinfo=zone)
    return _Window(start=start, end=end, since=since, until=until, today=today)


def _rate(numerator: int | None, denominator: int | None) -> float | None:
    if numerator is None or not denominator:
        return None
    return round(numerator / denominator, 4)


def _in(column: Column, ids: list[int]) -> Any:
    return column.is_in(ids or [0])


# ---------------------------------------------------------------------------
# booklet side: the funnel rollup plus the booklets not folded yet (domain/booklet_rollups.py)

_FUNNEL_STAGES = booklet_rollups.FUNNEL_STAGES
"""The columns of a territory's funnel row."""
_BOOKLET_STAGES = booklet_rollups.STAGES


def _booklet_selection(scope: _Scope, flt: ReportFilter, window: _Window) -> booklet_rollups.BookletSelection:
    return booklet_rollups.BookletSelection(
        start=window.start,
        end=window.end,
        today=window.today,
        territories=scope.territories,
        programme_id=flt.programme_id,
    )


def _sum_stages(rows: list[dict], key: str) -> dict[int, dict[str, int]]:
    """Stage counts summed per ``territory`` or per ``structure`` (booklets with no structure left out)."""
    out: dict[int, dict[str, int]] = {}
    for row in rows:
        if row[key] is None:
            continue
        into = out.setdefault(row[key], dict.fromkeys(_BOOKLET_STAGES, 0))
        for name in _BOOKLET_STAGES:
            into[name] += row[name]
    return out


# ---------------------------------------------------------------------------
# redemption side: monthly rollups and the rows not folded yet (domain/report_rollups.py)


def _selection(
    scope: _Scope, flt: ReportFilter, window: _Window, *, by_site: bool
) -> report_rollups.Selection:
    """Live redemptions of the period; territories are the booklet's, or the site's when ``by_site``."""
    return report_rollups.Selection(
        start=window.start,
        end=window.end,
        today=window.today,
        territories=scope.territories,
        territory_of="site" if by_site else "booklet",
        site_id=scope.site_id if scope.site_id is not None else flt.site_id,
        programme_id=flt.programme_id,
        theme=flt.theme or None,
    )


def _count_rows(rows: list[dict], key: str, labels: dict[str, str]) -> list[CountRow]:
    rows = sorted(rows, key=lambda r: (-r["count"], str(r[key])))
    return [
        CountRow(key=str(r[key]), label=labels.get(str(r[key]), str(r[key])), count=r["count"]) for r in rows
    ]


async def _sites(sel: report_rollups.Selection, page_of: _Page) -> tuple[list[SiteFigures], int]:
    """One page of the per-site table, most vouchers first, and the number of sites in it.

    The ranking needs only each site's totals (the small per-site rollup answers it when no
    filter needs more); themes and distinct beneficiaries are read for the page's sites only.
    """
    ranked, total = await report_rollups.ranked_sites(sel, page_of.limit, page_of.offset)
    totals = {row["site"]: row for row in ranked}
    shown = list(totals)
    if not shown:
        return [], total
    # Every site (an export): no list of ids to bind.
    page = sel if len(shown) == total else msgspec.structs.replace(sel, site_ids=shown)
    themes: dict[int, dict[str, int]] = {}
    for row in await report_rollups.redemption_counts(["site", "theme"], page):
        themes.setdefault(row["site"], {})[row["theme"]] = row["count"]
    beneficiaries = await report_rollups.beneficiaries_by_site(sel, shown)
    out = [
        SiteFigures(
            site_id=sid,
            site_name=totals[sid]["name"],
            territory_id=totals[sid]["territory"],
            vouchers_redeemed=totals[sid]["count"],
            beneficiaries=beneficiaries.get(sid, 0),
            amount_cents=totals[sid]["amount"],
            themes=dict(sorted(themes.get(sid, {}).items(), key=lambda kv: (-kv[1], kv[0]))),
        )
        for sid in shown
    ]
    return out, total


class _StructurePage(msgspec.Struct, kw_only=True):
    rows: dict[int, dict[str, int]]
    """Every structure's stage counts."""
    shown: list[int]
    total: int
    ages: dict[int, tuple[int, float]]
    """``{structure: (oldest, median days)}`` of the sleeping stock of the structures shown."""


def _active_structures(stages: list[dict]) -> dict[int, dict[str, int]]:
    """Stage counts of the structures with any booklet in the funnel."""
    return {
        sid: stage
        for sid, stage in _sum_stages(stages, "structure").items()
        if any(stage[name] for name in ("allocated", "issued", "started", "fully_used", "sleeping"))
    }


def _rank_structures(per_structure: dict[int, dict[str, int]]) -> list[int]:
    """Structures with the most booklets sleeping in their drawers first: the ones to call."""
    return sorted(
        per_structure,
        key=lambda sid: (-per_structure[sid]["sleeping"], -per_structure[sid]["allocated"], sid),
    )


async def _sleeping_ages(
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


def median(histogram: dict[int, int]) -> float | None:
    """Median of a ``{value: count}`` histogram (mean of the two middle values when even)."""
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


def _buckets(histogram: dict[int, int]) -> list[Bucket]:
    return [
        Bucket(
            label=label,
            min_days=low,
            max_days=high,
            count=sum(n for days, n in histogram.items() if days >= low and (high is None or days <= high)),
        )
        for label, low, high in FIRST_USE_BUCKETS
    ]


# ---------------------------------------------------------------------------
# expiring soon


class _Expiring(msgspec.Struct):
    booklets_30: int = 0
    booklets_60: int = 0
    vouchers_30: int = 0
    vouchers_60: int = 0


async def _expiring_by_territory(sel: booklet_rollups.BookletSelection) -> dict[int, _Expiring]:
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
        f"FROM booklet b{indexed_by('booklet_issued_valid_until')} "
        f"WHERE {' AND '.join(conditions)} GROUP BY 1, 2",
        *sql.params,
    )
    out: dict[int, _Expiring] = {}
    for row in rows:
        into = out.setdefault(row["territory"], _Expiring())
        booklets, vouchers = int(row["booklets"]), int(row["vouchers"])
        into.booklets_60 += booklets
        into.vouchers_60 += vouchers
        if row["within_30"]:
            into.booklets_30 += booklets
            into.vouchers_30 += vouchers
    return out


async def _expiring_booklets(scope: _Scope, flt: ReportFilter, today: date) -> list[ExpiringBooklet]:
    """Issued booklets with unused vouchers expiring in the next 60 days, soonest first."""
    where = (
        (Booklet.status == BookletStatus.issued)
        & (Booklet.used_count < Booklet.voucher_count)
        & (Booklet.valid_until >= today)
        & (Booklet.valid_until <= today + timedelta(days=60))
    )
    if scope.territories is not None:
        where &= _in(Booklet.territory, scope.territories)
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


# ---------------------------------------------------------------------------
# the report


async def _names(table: Any, ids: list[int]) -> dict[int, dict]:
    columns = [table.id, table.name]
    if table is DistributingStructure:
        columns.append(table.territory)
    return {r["id"]: r for r in await table.select(*columns).where(_in(table.id, ids))}


async def report(
    actor: Actor,
    flt: ReportFilter,
    *,
    now: datetime | None = None,
    site_limit: int | None = None,
    site_offset: int = 0,
    structure_limit: int | None = None,
    structure_offset: int = 0,
) -> Report:
    """All figures for the period and filters, within the actor's scope (docs/reports.md).

    The per-site table holds ``site_limit`` sites from ``site_offset`` (most vouchers first;
    default: all), ``sites_total`` says how many there are; the per-structure table likewise
    (most sleeping stock first). Read in one snapshot, so every figure agrees with the others
    even while redemptions and rollup folds commit.
    """
    scope = _scope(actor, flt)
    if flt.theme:
        value_lists.require("thematique", flt.theme, "theme")
    sites_page = _Page.checked(site_limit, site_offset, "site_limit", "Pagination des lieux invalide.")
    structures_page = _Page.checked(
        structure_limit, structure_offset, "structure_limit", "Pagination des structures invalide."
    )
    now = now or utcnow()
    window = _window(flt, now)
    async with read_snapshot():
        return await _report(scope, flt, window, now, sites_page, structures_page)


class _Page(msgspec.Struct, frozen=True):
    """Rows ``offset`` to ``offset + limit`` of a ranked table (``limit`` None: to the end)."""

    limit: int | None
    offset: int

    @classmethod
    def checked(cls, limit: int | None, offset: int, field: str, message: str) -> _Page:
        if (limit is not None and limit < 1) or offset < 0:
            raise DomainError("invalid_input", message, field=field)
        return cls(limit=limit, offset=offset)

    def of(self, ranked: list[int]) -> list[int]:
        return ranked[self.offset : None if self.limit is None else self.offset + self.limit]


async def _report(
    scope: _Scope,
    flt: ReportFilter,
    window: _Window,
    now: datetime,
    sites_page: _Page,
    structures_page: _Page,
) -> Report:
    by_booklet = _selection(scope, flt, window, by_site=False)
    booklets = _booklet_selection(scope, flt, window)

    async def redemption_side() -> list[list[dict]]:
        # One grouped read gives the per-territory counts, the total, the amount and the
        # cross-territory table; by reimbursement month, a late upload is paid in the next open
        # month (docs/reports.md).
        return [
            await report_rollups.redemption_counts(keys, by_booklet)
            for keys in (["booklet_territory", "site_territory"], ["period"], ["theme"], ["age_band"])
        ]

    async def funnel() -> tuple[booklet_rollups.BookletFigures, _StructurePage]:
        figures = await booklet_rollups.booklet_figures(booklets)
        # The ages of the sleeping stock are read for the page's structures only: each one's
        # booklets in its drawer, where every structure's would be tens of thousands of rows.
        per_structure = _active_structures(figures.stages)
        ranked = _rank_structures(per_structure)
        shown = structures_page.of(ranked)
        ages = await _sleeping_ages(booklets, now, None if len(shown) == len(ranked) else shown)
        return figures, _StructurePage(rows=per_structure, shown=shown, total=len(ranked), ages=ages)

    async def expiring() -> tuple[dict[int, _Expiring], list[ExpiringBooklet]]:
        serials = await _expiring_booklets(scope, flt, window.today) if scope.serials else []
        return await _expiring_by_territory(booklets), serials

    async def sites() -> tuple[list[SiteFigures], int]:
        return await _sites(_selection(scope, flt, window, by_site=True), sites_page)

    # Independent reads of the same snapshot, side by side on PostgreSQL; a site agent sees no
    # booklet figures, so their reads are not even started.
    sides = await side_by_side(redemption_side, sites, *((funnel, expiring) if scope.booklets else ()))
    (pairs, by_month, by_theme, by_age_band), (site_rows, sites_total) = sides[:2]
    booklet_part, expiring_part = sides[2:] if scope.booklets else (None, None)
    structures_total = 0
    redeemed_by_territory: dict[int, int] = {}
    for pair in pairs:
        tid = pair["booklet_territory"]
        redeemed_by_territory[tid] = redeemed_by_territory.get(tid, 0) + pair["count"]
    redeemed_total = sum(pair["count"] for pair in pairs)
    amount = sum(pair["amount"] for pair in pairs)

    territories_out: list[TerritoryFunnel] = []
    structures_out: list[StructureFunnel] = []
    first_use = None
    expiring_out: list[ExpiringTerritory] = []
    expiring_booklets: list[ExpiringBooklet] = []
    if booklet_part is not None:
        figures, structure_page = booklet_part
        expiring_counts, expiring_booklets = expiring_part
        rows = figures.stages
        per_territory = _sum_stages(rows, "territory")
        total = {name: sum(row[name] for row in rows) for name in _BOOKLET_STAGES}
        totals = Totals(
            booklets_printed=total["printed"],
            booklets_allocated=total["allocated"],
            booklets_issued=total["issued"],
            booklets_started=total["started"],
            booklets_fully_used=total["fully_used"],
            booklets_sleeping=total["sleeping"],
            vouchers_issued=total["vouchers_issued"],
            vouchers_redeemed=redeemed_total,
            vouchers_cancelled=total["vouchers_cancelled"],
            vouchers_replaced=total["vouchers_replaced"],
            vouchers_expired_unused=total["vouchers_expired"],
            amount_redeemed_cents=amount,
            usage_rate=_rate(redeemed_total, total["vouchers_issued"]),
            activation_rate=_rate(total["started"], total["issued"]),
        )
        territory_ids = set(redeemed_by_territory) | {
            tid for tid, stage in per_territory.items() if any(stage[name] for name in _FUNNEL_STAGES)
        }
        names = await _names(Territory, sorted(territory_ids | set(per_territory) | set(expiring_counts)))
        for tid in sorted(territory_ids):
            stage = {name: per_territory.get(tid, {}).get(name, 0) for name in _FUNNEL_STAGES}
            redeemed = redeemed_by_territory.get(tid, 0)
            territories_out.append(
                TerritoryFunnel(
                    territory_id=tid,
                    territory_name=names[tid]["name"],
                    **stage,
                    vouchers_redeemed=redeemed,
                    usage_rate=_rate(redeemed, stage["vouchers_issued"]),
                    activation_rate=_rate(stage["started"], stage["issued"]),
                )
            )
        per_structure = structure_page.rows
        structures_total = structure_page.total
        structure_names = await _names(DistributingStructure, structure_page.shown)
        for sid in structure_page.shown:
            oldest, middle = structure_page.ages.get(sid, (None, None))
            stage = per_structure[sid]
            structures_out.append(
                StructureFunnel(
                    structure_id=sid,
                    structure_name=structure_names[sid]["name"],
                    territory_id=structure_names[sid]["territory"],
                    allocated=stage["allocated"],
                    issued=stage["issued"],
                    started=stage["started"],
                    fully_used=stage["fully_used"],
                    sleeping=stage["sleeping"],
                    oldest_sleeping_days=oldest,
                    median_sleeping_days=middle,
                )
            )
        histogram = figures.first_use
        first_use = FirstUse(
            booklets=sum(histogram.values()), median_days=median(histogram), buckets=_buckets(histogram)
        )
        expiring_out = [
            ExpiringTerritory(
                territory_id=tid,
                territory_name=names[tid]["name"],
                booklets_30_days=counts.booklets_30,
                booklets_60_days=counts.booklets_60,
                vouchers_30_days=counts.vouchers_30,
                vouchers_60_days=counts.vouchers_60,
            )
            for tid, counts in sorted(expiring_counts.items())
        ]
    else:
        totals = Totals(
            booklets_printed=None,
            booklets_allocated=None,
            booklets_issued=None,
            booklets_started=None,
            booklets_fully_used=None,
            booklets_sleeping=None,
            vouchers_issued=None,
            vouchers_redeemed=redeemed_total,
            vouchers_cancelled=None,
            vouchers_replaced=None,
            vouchers_expired_unused=None,
            amount_redeemed_cents=amount,
            usage_rate=None,
            activation_rate=None,
        )

    themes = value_lists.value_lists()["thematique"]
    ages_labels = value_lists.value_lists()["tranche_age"]
    cross = [
        CrossTerritory(
            booklet_territory_id=r["booklet_territory"],
            site_territory_id=r["site_territory"],
            vouchers_redeemed=r["count"],
        )
        for r in pairs
        if r["booklet_territory"] != r["site_territory"]
    ]
    return Report(
        start=window.start,
        end=window.end,
        today=window.today,
        filters=flt,
        scope=scope.label,
        totals=totals,
        territories=territories_out,
        structures=structures_out,
        structures_total=structures_total,
        sites=site_rows,
        sites_total=sites_total,
        first_use=first_use,
        by_month=sorted(_count_rows(by_month, "period", {}), key=lambda row: row.key),
        by_theme=_count_rows(by_theme, "theme", themes),
        by_age_band=_count_rows(by_age_band, "age_band", ages_labels),
        cross_territory=sorted(cross, key=lambda c: (c.booklet_territory_id, c.site_territory_id)),
        expiring=expiring_out,
        expiring_booklets=expiring_booklets,
    )


# ---------------------------------------------------------------------------
# public statistics


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
    window = _window(flt, now or utcnow())
    scope = _Scope(territories=None, site_id=None, booklets=True, serials=False, label="all")
    async with read_snapshot():
        figures = await booklet_rollups.booklet_figures(_booklet_selection(scope, flt, window))
        funnel = _sum_stages(figures.stages, "territory")
        counts = await report_rollups.redemption_counts(
            ["booklet_territory"], _selection(scope, flt, window, by_site=False)
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
                usage_rate=_rate(shown["vouchers_redeemed"], shown["vouchers_issued"]),
                activation_rate=_rate(shown["booklets_started"], shown["booklets_issued"]),
            )
        )
    return PublicStatistics(
        start=window.start, end=window.end, suppressed_below=SMALL_COUNT, territories=rows
    )
