"""Reports: issued versus used, per territory, structure, partner site and period.

Every figure is an aggregate query run by the database (``COUNT``/``SUM`` …
``GROUP BY``); Python only assembles the grouped rows. The two figures that
need date arithmetic (days from issuance to first use, age of sleeping stock)
are the only raw SQL, kept here with one expression per engine. Definitions
are in docs/reports.md; the scope of each role is applied in ``_scope``.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Any

import msgspec
from piccolo.columns import Column
from piccolo.columns.combination import WhereRaw
from piccolo.query.functions.aggregate import Count, Sum

from pass_numerique.db.tables import (
    Booklet,
    BookletStatus,
    DistributingStructure,
    PartnerSite,
    Redemption,
    Role,
    Territory,
    Voucher,
    VoucherStatus,
)
from pass_numerique.db.transaction import is_sqlite
from pass_numerique.domain import value_lists
from pass_numerique.domain.actors import Actor
from pass_numerique.domain.clock import add_months, local_date, local_zone, utcnow
from pass_numerique.domain.errors import DomainError, not_found

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
    """Default: twelve months before ``end``."""
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
    sites: list[SiteFigures]
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
    start = flt.start or add_months(end, -12) + timedelta(days=1)
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
# booklet side: printed -> allocated -> issued -> started -> fully used


# Written as NOT EXISTS, not NOT IN: PostgreSQL cannot turn ``NOT IN (subquery)`` into an anti-join
# (NULL semantics) and, once the subquery outgrows work_mem, re-scans it for every booklet.
_NOT_A_REPLACEMENT = WhereRaw('NOT EXISTS (SELECT 1 FROM booklet r WHERE r.replaced_by = "booklet"."id")')
"""Booklets issued to replace a cancelled one are left out: their vouchers were counted with the original."""
_ALL_USED = WhereRaw(
    'NOT EXISTS (SELECT 1 FROM voucher v WHERE v.booklet = "booklet"."id" AND v.status <> {})',
    VoucherStatus.redeemed.value,
)
_SOME_USED = WhereRaw(
    'EXISTS (SELECT 1 FROM voucher v WHERE v.booklet = "booklet"."id" AND v.status = {})',
    VoucherStatus.redeemed.value,
)


def _booklet_where(scope: _Scope, flt: ReportFilter) -> Any:
    where = Booklet.id.is_not_null()
    if scope.territories is not None:
        where &= _in(Booklet.territory, scope.territories)
    if flt.programme_id is not None:
        where &= Booklet.programme == flt.programme_id
    return where


async def _grouped(query: Any, key: str, value: str = "count") -> dict[int, int]:
    return {row[key]: int(row[value] or 0) for row in await query}


async def _booklet_funnel(
    scope: _Scope, flt: ReportFilter, window: _Window, group: Column
) -> dict[str, dict]:
    """Each funnel stage counted by the database, grouped by ``group`` (territory or structure)."""
    base = _booklet_where(scope, flt)
    if group is Booklet.structure:
        base &= Booklet.structure.is_not_null()
    key = group._meta.name
    issued = (
        base & (Booklet.issued_at >= window.since) & (Booklet.issued_at < window.until) & _NOT_A_REPLACEMENT
    )

    def counted(where: Any) -> Any:
        return Booklet.select(group, Count()).where(where).group_by(group)

    stages = {
        "printed": counted(
            base
            & (Booklet.created_at >= window.since)
            & (Booklet.created_at < window.until)
            & _NOT_A_REPLACEMENT
        ),
        "allocated": counted(
            base & (Booklet.allocated_at >= window.since) & (Booklet.allocated_at < window.until)
        ),
        "issued": counted(issued),
        "started": counted(issued & _SOME_USED),
        "fully_used": counted(issued & (Booklet.status == BookletStatus.issued) & _ALL_USED),
        "sleeping": counted(base & (Booklet.status == BookletStatus.allocated)),
        "vouchers_issued": Booklet.select(group, Sum(Booklet.voucher_count).as_alias("count"))
        .where(issued)
        .group_by(group),
    }
    return {name: await _grouped(query, key) for name, query in stages.items()}


async def _voucher_losses(scope: _Scope, flt: ReportFilter, window: _Window) -> dict[str, int]:
    """Vouchers cancelled (lost for good), carried to a replacement, expired unused."""
    where = Voucher.id.is_not_null()
    if scope.territories is not None:
        where &= _in(Voucher.booklet.territory, scope.territories)
    if flt.programme_id is not None:
        where &= Voucher.booklet.programme == flt.programme_id
    cancelled = (
        where
        & (Voucher.status == VoucherStatus.cancelled)
        & (Voucher.booklet.cancelled_at >= window.since)
        & (Voucher.booklet.cancelled_at < window.until)
    )
    return {
        "cancelled": await Voucher.count().where(cancelled & Voucher.booklet.replaced_by.is_null()),
        "replaced": await Voucher.count().where(cancelled & Voucher.booklet.replaced_by.is_not_null()),
        "expired": await Voucher.count().where(
            where
            & (Voucher.status == VoucherStatus.available)
            & (Voucher.booklet.status == BookletStatus.issued)
            & (Voucher.booklet.valid_until < window.today)
            & (Voucher.booklet.issued_at >= window.since)
            & (Voucher.booklet.issued_at < window.until)
        ),
    }


# ---------------------------------------------------------------------------
# redemption side


def _redemption_where(scope: _Scope, flt: ReportFilter, window: _Window, *, by_site: bool) -> Any:
    """Live redemptions of the period; territories are the booklet's, or the site's when ``by_site``."""
    where = (
        Redemption.undone_at.is_null()
        & (Redemption.redeemed_at >= window.since)
        & (Redemption.redeemed_at < window.until)
    )
    if scope.site_id is not None:
        where &= Redemption.site == scope.site_id
    if flt.site_id is not None:
        where &= Redemption.site == flt.site_id
    if flt.theme:
        where &= Redemption.theme == flt.theme
    if flt.programme_id is not None:
        where &= Redemption.voucher.booklet.programme == flt.programme_id
    if scope.territories is not None:
        column = Redemption.site.territory if by_site else Redemption.voucher.booklet.territory
        where &= _in(column, scope.territories)
    return where


async def _count_by(where: Any, column: Column) -> list[dict]:
    return await Redemption.select(column.as_alias("key"), Count()).where(where).group_by(column)


def _count_rows(rows: list[dict], labels: dict[str, str]) -> list[CountRow]:
    rows = sorted(rows, key=lambda r: (-r["count"], str(r["key"])))
    return [
        CountRow(key=str(r["key"]), label=labels.get(str(r["key"]), str(r["key"])), count=r["count"])
        for r in rows
    ]


async def _sites(where: Any) -> list[SiteFigures]:
    rows = (
        await Redemption.select(
            Redemption.site.as_alias("site_id"),
            Count().as_alias("redeemed"),
            Count(distinct=[Redemption.voucher.booklet.beneficiary]).as_alias("beneficiaries"),
            Sum(Redemption.voucher.face_value_cents).as_alias("amount"),
        )
        .where(where)
        .group_by(Redemption.site)
    )
    themes: dict[int, dict[str, int]] = {}
    for row in (
        await Redemption.select(Redemption.site.as_alias("site_id"), Redemption.theme, Count())
        .where(where)
        .group_by(Redemption.site, Redemption.theme)
    ):
        themes.setdefault(row["site_id"], {})[row["theme"]] = row["count"]
    ids = [r["site_id"] for r in rows]
    names = {
        s["id"]: s
        for s in await PartnerSite.select(PartnerSite.id, PartnerSite.name, PartnerSite.territory).where(
            _in(PartnerSite.id, ids)
        )
    }
    out = [
        SiteFigures(
            site_id=r["site_id"],
            site_name=names[r["site_id"]]["name"],
            territory_id=names[r["site_id"]]["territory"],
            vouchers_redeemed=r["redeemed"],
            beneficiaries=r["beneficiaries"],
            amount_cents=int(r["amount"] or 0),
            themes=dict(sorted(themes.get(r["site_id"], {}).items(), key=lambda kv: (-kv[1], kv[0]))),
        )
        for r in rows
    ]
    return sorted(out, key=lambda s: (-s.vouchers_redeemed, s.site_name))


# ---------------------------------------------------------------------------
# the raw SQL: day differences (one expression per engine)


def _days_between(later: str, earlier: str) -> str:
    """SQL for the whole days from ``earlier`` to ``later`` (both timestamptz expressions)."""
    if is_sqlite():
        return f"CAST(julianday({later}) - julianday({earlier}) AS INTEGER)"
    return f"CAST(FLOOR(EXTRACT(EPOCH FROM ({later} - {earlier})) / 86400) AS INTEGER)"


def _placeholders(values: list[Any]) -> str:
    return ", ".join("{}" for _ in values)


async def _first_use_histogram(scope: _Scope, flt: ReportFilter, window: _Window) -> dict[int, int]:
    """``{days: booklets}`` from issuance to first live redemption, booklets issued in the period."""
    conditions = [
        "r.undone_at IS NULL",
        "b.issued_at >= {}",
        "b.issued_at < {}",
        "NOT EXISTS (SELECT 1 FROM booklet x WHERE x.replaced_by = b.id)",
    ]
    params: list[Any] = [window.since, window.until]
    if scope.territories is not None:
        ids = scope.territories or [0]
        conditions.append(f"b.territory IN ({_placeholders(ids)})")
        params += ids
    if flt.programme_id is not None:
        conditions.append("b.programme = {}")
        params.append(flt.programme_id)
    days = _days_between("f.first_use", "f.issued_at")
    sql = (
        f"SELECT {days} AS days, COUNT(*) AS booklets FROM ("  # noqa: S608 (constant SQL, bound values)
        "SELECT b.id AS id, b.issued_at AS issued_at, MIN(r.redeemed_at) AS first_use "
        "FROM booklet b JOIN voucher v ON v.booklet = b.id JOIN redemption r ON r.voucher = v.id "
        f"WHERE {' AND '.join(conditions)} GROUP BY b.id, b.issued_at) f GROUP BY 1"
    )
    rows = await Booklet.raw(sql, *params)
    return {int(r["days"]): int(r["booklets"]) for r in rows}


async def _sleeping_ages(scope: _Scope, flt: ReportFilter, now: datetime) -> dict[int, dict[int, int]]:
    """``{structure: {age in days: booklets}}`` of booklets allocated and not issued."""
    conditions = ["status = {}", "structure IS NOT NULL", "allocated_at IS NOT NULL"]
    params: list[Any] = [BookletStatus.allocated.value]
    if scope.territories is not None:
        ids = scope.territories or [0]
        conditions.append(f"territory IN ({_placeholders(ids)})")
        params += ids
    if flt.programme_id is not None:
        conditions.append("programme = {}")
        params.append(flt.programme_id)
    now_sql = "{}" if is_sqlite() else "CAST({} AS TIMESTAMPTZ)"
    age = _days_between(now_sql, "allocated_at")
    sql = (
        f"SELECT structure, {age} AS age, COUNT(*) AS booklets FROM booklet "  # noqa: S608 (bound values)
        f"WHERE {' AND '.join(conditions)} GROUP BY 1, 2"
    )
    # Piccolo's SQLite adapter stores and binds timestamptz as UTC text; asyncpg binds the datetime.
    rows = await Booklet.raw(sql, now, *params)
    ages: dict[int, dict[int, int]] = {}
    for row in rows:
        ages.setdefault(row["structure"], {})[int(row["age"])] = int(row["booklets"])
    return ages


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


async def _expiring(
    scope: _Scope, flt: ReportFilter, today: date
) -> tuple[list[dict], list[ExpiringBooklet]]:
    base = (
        (Voucher.status == VoucherStatus.available)
        & (Voucher.booklet.status == BookletStatus.issued)
        & (Voucher.booklet.valid_until >= today)
    )
    if scope.territories is not None:
        base &= _in(Voucher.booklet.territory, scope.territories)
    if flt.programme_id is not None:
        base &= Voucher.booklet.programme == flt.programme_id
    per_territory: dict[int, dict] = {}
    for days in (30, 60):
        within = base & (Voucher.booklet.valid_until <= today + timedelta(days=days))
        territory = Voucher.booklet.territory
        rows = (
            await Voucher.select(
                territory.as_alias("territory"),
                Count(distinct=[Voucher.booklet]).as_alias("booklets"),
                Count().as_alias("vouchers"),
            )
            .where(within)
            .group_by(territory)
        )
        for row in rows:
            entry = per_territory.setdefault(row["territory"], {"territory_id": row["territory"]})
            entry[f"booklets_{days}_days"] = row["booklets"]
            entry[f"vouchers_{days}_days"] = row["vouchers"]
    booklets: list[ExpiringBooklet] = []
    if scope.serials:
        rows = (
            await Voucher.select(
                Voucher.booklet.serial.as_alias("serial"),
                Voucher.booklet.territory.as_alias("territory_id"),
                Voucher.booklet.valid_until.as_alias("valid_until"),
                Count().as_alias("unused"),
            )
            .where(base & (Voucher.booklet.valid_until <= today + timedelta(days=60)))
            .group_by(Voucher.booklet.serial, Voucher.booklet.territory, Voucher.booklet.valid_until)
            .order_by(Voucher.booklet.valid_until)
            .limit(EXPIRING_LIST_LIMIT)
        )
        booklets = msgspec.convert(rows, list[ExpiringBooklet])
    return list(per_territory.values()), booklets


# ---------------------------------------------------------------------------
# the report


async def _names(table: Any, ids: list[int]) -> dict[int, dict]:
    columns = [table.id, table.name]
    if table is DistributingStructure:
        columns.append(table.territory)
    return {r["id"]: r for r in await table.select(*columns).where(_in(table.id, ids))}


async def report(actor: Actor, flt: ReportFilter, *, now: datetime | None = None) -> Report:
    """All figures for the period and filters, within the actor's scope (docs/reports.md)."""
    scope = _scope(actor, flt)
    if flt.theme:
        value_lists.require("thematique", flt.theme, "theme")
    now = now or utcnow()
    window = _window(flt, now)
    by_booklet = _redemption_where(scope, flt, window, by_site=False)
    by_site = _redemption_where(scope, flt, window, by_site=True)

    # One grouped pass over the period's redemptions gives the per-territory counts, the total,
    # the amount and the cross-territory table.
    pairs = (
        await Redemption.select(
            Redemption.voucher.booklet.territory.as_alias("booklet"),
            Redemption.site.territory.as_alias("site"),
            Count(),
            Sum(Redemption.voucher.face_value_cents).as_alias("amount"),
        )
        .where(by_booklet)
        .group_by(Redemption.voucher.booklet.territory, Redemption.site.territory)
    )
    redeemed_by_territory: dict[int, int] = {}
    for pair in pairs:
        redeemed_by_territory[pair["booklet"]] = redeemed_by_territory.get(pair["booklet"], 0) + pair["count"]
    redeemed_total = sum(pair["count"] for pair in pairs)
    amount = sum(int(pair["amount"] or 0) for pair in pairs)

    territories_out: list[TerritoryFunnel] = []
    structures_out: list[StructureFunnel] = []
    first_use = None
    expiring_out: list[ExpiringTerritory] = []
    expiring_booklets: list[ExpiringBooklet] = []
    if scope.booklets:
        funnel = await _booklet_funnel(scope, flt, window, Booklet.territory)
        losses = await _voucher_losses(scope, flt, window)
        stage_sum = {name: sum(values.values()) for name, values in funnel.items()}
        totals = Totals(
            booklets_printed=stage_sum["printed"],
            booklets_allocated=stage_sum["allocated"],
            booklets_issued=stage_sum["issued"],
            booklets_started=stage_sum["started"],
            booklets_fully_used=stage_sum["fully_used"],
            booklets_sleeping=stage_sum["sleeping"],
            vouchers_issued=stage_sum["vouchers_issued"],
            vouchers_redeemed=redeemed_total,
            vouchers_cancelled=losses["cancelled"],
            vouchers_replaced=losses["replaced"],
            vouchers_expired_unused=losses["expired"],
            amount_redeemed_cents=amount,
            usage_rate=_rate(redeemed_total, stage_sum["vouchers_issued"]),
            activation_rate=_rate(stage_sum["started"], stage_sum["issued"]),
        )
        territory_ids = set(redeemed_by_territory).union(*[set(v) for v in funnel.values()])
        names = await _names(Territory, sorted(territory_ids))
        for tid in sorted(territory_ids):
            stage = {name: values.get(tid, 0) for name, values in funnel.items()}
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
        per_structure = await _booklet_funnel(scope, flt, window, Booklet.structure)
        ages = await _sleeping_ages(scope, flt, now)
        structure_ids = set().union(*[set(v) for v in per_structure.values()])
        structure_names = await _names(DistributingStructure, sorted(structure_ids))
        for sid in sorted(structure_ids):
            histogram = ages.get(sid, {})
            structures_out.append(
                StructureFunnel(
                    structure_id=sid,
                    structure_name=structure_names[sid]["name"],
                    territory_id=structure_names[sid]["territory"],
                    allocated=per_structure["allocated"].get(sid, 0),
                    issued=per_structure["issued"].get(sid, 0),
                    started=per_structure["started"].get(sid, 0),
                    fully_used=per_structure["fully_used"].get(sid, 0),
                    sleeping=per_structure["sleeping"].get(sid, 0),
                    oldest_sleeping_days=max(histogram) if histogram else None,
                    median_sleeping_days=median(histogram),
                )
            )
        histogram = await _first_use_histogram(scope, flt, window)
        first_use = FirstUse(
            booklets=sum(histogram.values()), median_days=median(histogram), buckets=_buckets(histogram)
        )
        expiring_rows, expiring_booklets = await _expiring(scope, flt, window.today)
        territory_names = await _names(Territory, [r["territory_id"] for r in expiring_rows])
        expiring_out = sorted(
            (
                ExpiringTerritory(
                    territory_id=r["territory_id"],
                    territory_name=territory_names[r["territory_id"]]["name"],
                    booklets_30_days=r.get("booklets_30_days", 0),
                    booklets_60_days=r.get("booklets_60_days", 0),
                    vouchers_30_days=r.get("vouchers_30_days", 0),
                    vouchers_60_days=r.get("vouchers_60_days", 0),
                )
                for r in expiring_rows
            ),
            key=lambda e: e.territory_id,
        )
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
            booklet_territory_id=r["booklet"], site_territory_id=r["site"], vouchers_redeemed=r["count"]
        )
        for r in pairs
        if r["booklet"] != r["site"]
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
        sites=await _sites(by_site),
        first_use=first_use,
        by_month=sorted(
            _count_rows(await _count_by(by_booklet, Redemption.period), {}), key=lambda row: row.key
        ),
        by_theme=_count_rows(await _count_by(by_booklet, Redemption.theme), themes),
        by_age_band=_count_rows(
            await _count_by(by_booklet, Redemption.voucher.booklet.beneficiary.age_band), ages_labels
        ),
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
    funnel = await _booklet_funnel(scope, flt, window, Booklet.territory)
    redeemed = {
        r["key"]: r["count"]
        for r in await _count_by(
            _redemption_where(scope, flt, window, by_site=False), Redemption.voucher.booklet.territory
        )
    }
    rows = []
    for territory in await Territory.select(Territory.id, Territory.name).order_by(Territory.name):
        tid = territory["id"]
        raw = {
            "booklets_issued": funnel["issued"].get(tid, 0),
            "booklets_started": funnel["started"].get(tid, 0),
            "vouchers_issued": funnel["vouchers_issued"].get(tid, 0),
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
