"""The dashboard's report: every figure of a period within the actor's scope, read in one snapshot.

This module assembles; the figures come from the modules this package's docstring maps them to
(``domain/reports/__init__.py``): the two rollups, the booklets read as of today, the scope.
Definitions are in docs/reports.md.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import msgspec

from pass_numerique.db.transaction import read_snapshot, side_by_side
from pass_numerique.domain.actors import Actor
from pass_numerique.domain.clock import utcnow
from pass_numerique.domain.errors import DomainError
from pass_numerique.domain.reports import booklet_rollups, booklets_today, cohort, redemption_rollups
from pass_numerique.domain.reports.figures import (
    Cohort,
    CountRow,
    CrossTerritory,
    ExpiringBooklet,
    ExpiringTerritory,
    FirstUse,
    Report,
    ReportFilter,
    SiteFigures,
    SiteTotals,
    StructureFunnel,
    TerritoryFunnel,
    Totals,
    first_use_buckets,
    median,
    rate,
)
from pass_numerique.domain.reports.scope import (
    Scope,
    Window,
    booklet_selection,
    redemption_selection,
    scope_of,
    window_of,
)
from pass_numerique.domain.scheme import value_lists
from pass_numerique.domain.tables import DistributingStructure, Territory


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
    scope = scope_of(actor, flt)
    if flt.theme:
        value_lists.require("thematique", flt.theme, "theme")
    sites_page = _Page.checked(site_limit, site_offset, "site_limit", "Pagination des lieux invalide.")
    structures_page = _Page.checked(
        structure_limit, structure_offset, "structure_limit", "Pagination des structures invalide."
    )
    now = now or utcnow()
    window = window_of(flt, now)
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
    scope: Scope,
    flt: ReportFilter,
    window: Window,
    now: datetime,
    sites_page: _Page,
    structures_page: _Page,
) -> Report:
    by_booklet = redemption_selection(scope, flt, window, by_site=False)
    booklets = booklet_selection(scope, flt, window)

    async def redemption_side() -> list[list[dict]]:
        # One grouped read gives the per-territory counts, the total, the amount and the
        # cross-territory table; by reimbursement month, a late upload is paid in the next open
        # month (docs/reports.md).
        return [
            await redemption_rollups.redemption_counts(keys, by_booklet)
            for keys in (["booklet_territory", "site_territory"], ["period"], ["theme"], ["age_band"])
        ]

    async def funnel() -> tuple[booklet_rollups.BookletFigures, _StructurePage, Cohort]:
        figures = await booklet_rollups.booklet_figures(booklets)
        printed = await cohort.cohort(booklets)
        # The ages of the sleeping stock are read for the page's structures only: each one's
        # booklets in its drawer, where every structure's would be tens of thousands of rows.
        per_structure = _active_structures(figures.stages)
        ranked = _rank_structures(per_structure)
        shown = structures_page.of(ranked)
        ages = await booklets_today.sleeping_ages(booklets, now, None if len(shown) == len(ranked) else shown)
        page = _StructurePage(rows=per_structure, shown=shown, total=len(ranked), ages=ages)
        return figures, page, printed

    async def expiring() -> tuple[dict[int, booklets_today.Expiring], list[ExpiringBooklet]]:
        serials = await booklets_today.expiring_booklets(scope, flt, window.today) if scope.serials else []
        return await booklets_today.expiring_by_territory(booklets), serials

    by_site = redemption_selection(scope, flt, window, by_site=True)

    async def sites() -> tuple[list[SiteFigures], int, list[dict]]:
        # The pairs of every site in scope: the per-site table's total row, whatever page it shows.
        pairs = await redemption_rollups.redemption_counts(["booklet_territory", "site_territory"], by_site)
        return (*await _sites(by_site, sites_page), pairs)

    # Independent reads of the same snapshot, side by side on PostgreSQL; a site agent sees no
    # booklet figures, so their reads are not even started.
    sides = await side_by_side(redemption_side, sites, *((funnel, expiring) if scope.booklets else ()))
    (pairs, by_month, by_theme, by_age_band), (site_rows, sites_total, site_pairs) = sides[:2]
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
    printed_cohort = None
    expiring_out: list[ExpiringTerritory] = []
    expiring_booklets: list[ExpiringBooklet] = []
    if booklet_part is not None:
        figures, structure_page, printed_cohort = booklet_part
        expiring_counts, expiring_booklets = expiring_part
        rows = figures.stages
        per_territory = booklet_rollups.sum_stages(rows, "territory")
        total = {name: sum(row[name] for row in rows) for name in booklet_rollups.STAGES}
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
            usage_rate=rate(redeemed_total, total["vouchers_issued"]),
            activation_rate=rate(total["started"], total["issued"]),
        )
        territory_ids = set(redeemed_by_territory) | {
            tid
            for tid, stage in per_territory.items()
            if any(stage[name] for name in booklet_rollups.FUNNEL_STAGES)
        }
        names = await _names(Territory, sorted(territory_ids | set(per_territory) | set(expiring_counts)))
        for tid in sorted(territory_ids):
            stage = {name: per_territory.get(tid, {}).get(name, 0) for name in booklet_rollups.FUNNEL_STAGES}
            redeemed = redeemed_by_territory.get(tid, 0)
            territories_out.append(
                TerritoryFunnel(
                    territory_id=tid,
                    territory_name=names[tid]["name"],
                    **stage,
                    vouchers_redeemed=redeemed,
                    usage_rate=rate(redeemed, stage["vouchers_issued"]),
                    activation_rate=rate(stage["started"], stage["issued"]),
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
            booklets=sum(histogram.values()),
            median_days=median(histogram),
            buckets=first_use_buckets(histogram),
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
        site_totals=_site_totals(scope, pairs, site_pairs),
        cohort=printed_cohort,
        first_use=first_use,
        by_month=sorted(_count_rows(by_month, "period", {}), key=lambda row: row.key),
        by_theme=_count_rows(by_theme, "theme", themes),
        by_age_band=_count_rows(by_age_band, "age_band", ages_labels),
        cross_territory=sorted(cross, key=lambda c: (c.booklet_territory_id, c.site_territory_id)),
        expiring=expiring_out,
        expiring_booklets=expiring_booklets,
    )


# ---------------------------------------------------------------------------
# the parts of a report


async def _names(table: Any, ids: list[int]) -> dict[int, dict]:
    columns = [table.id, table.name]
    if table is DistributingStructure:
        columns.append(table.territory)
    return {r["id"]: r for r in await table.select(*columns).where(table.id.is_in(ids or [0]))}


def _site_totals(scope: Scope, pairs: list[dict], site_pairs: list[dict]) -> SiteTotals:
    """The per-site table's total, and the cross-territory use that separates it from the headline
    (redemptions of the booklets in scope): only a territory scope has an outside."""
    inside = None if scope.territories is None else set(scope.territories)
    return SiteTotals(
        vouchers_redeemed=sum(p["count"] for p in site_pairs),
        amount_cents=sum(p["amount"] for p in site_pairs),
        from_elsewhere=0
        if inside is None
        else sum(p["count"] for p in site_pairs if p["booklet_territory"] not in inside),
        used_elsewhere=0
        if inside is None
        else sum(p["count"] for p in pairs if p["site_territory"] not in inside),
    )


def _count_rows(rows: list[dict], key: str, labels: dict[str, str]) -> list[CountRow]:
    rows = sorted(rows, key=lambda r: (-r["count"], str(r[key])))
    return [
        CountRow(key=str(r[key]), label=labels.get(str(r[key]), str(r[key])), count=r["count"]) for r in rows
    ]


async def _sites(sel: redemption_rollups.Selection, page_of: _Page) -> tuple[list[SiteFigures], int]:
    """One page of the per-site table, most vouchers first, and the number of sites in it.

    The ranking needs only each site's totals (the small per-site rollup answers it when no
    filter needs more); themes and distinct beneficiaries are read for the page's sites only.
    """
    ranked, total = await redemption_rollups.ranked_sites(sel, page_of.limit, page_of.offset)
    totals = {row["site"]: row for row in ranked}
    shown = list(totals)
    if not shown:
        return [], total
    # Every site (an export): no list of ids to bind.
    page = sel if len(shown) == total else msgspec.structs.replace(sel, site_ids=shown)
    themes: dict[int, dict[str, int]] = {}
    for row in await redemption_rollups.redemption_counts(["site", "theme"], page):
        themes.setdefault(row["site"], {})[row["theme"]] = row["count"]
    beneficiaries = await redemption_rollups.beneficiaries_by_site(sel, shown)
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
        for sid, stage in booklet_rollups.sum_stages(stages, "structure").items()
        if any(stage[name] for name in ("allocated", "issued", "started", "fully_used", "sleeping"))
    }


def _rank_structures(per_structure: dict[int, dict[str, int]]) -> list[int]:
    """Structures with the most booklets sleeping in their drawers first: the ones to call."""
    return sorted(
        per_structure,
        key=lambda sid: (-per_structure[sid]["sleeping"], -per_structure[sid]["allocated"], sid),
    )
