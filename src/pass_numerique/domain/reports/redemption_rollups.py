"""Monthly rollups of the redemptions, exact at every moment.

Five tables count live redemptions per local month: ``redemption_by_site`` (reimbursement
period, site, booklet territory, programme, theme), three sums of it with fewer keys,
``redemption_by_site_month`` (site: the ranking of the per-site table),
``redemption_by_territory_pair`` (site and booklet territory: cross-territory use) and
``redemption_by_site_programme`` (the same and the programme: both under a programme filter), and
``redemption_by_territory`` (reimbursement period, booklet territory, programme, theme, age
band). ``fold`` adds to them the redemptions they do not count yet: a redemption is inserted
``report_pending`` and an undo sets the flag again; the fold adds the difference between
"live" and ``report_counted`` (+1 new, -1 undone after being counted, 0 undone before any
fold), then records the row as counted. Nothing but that flag is added to the redemption's
own transaction: the hot path stays one statement.

A read (``redemption_counts``) is exact without waiting for a fold: it sums, in one statement,
the rollup rows of the whole months of the period, the rows the fold has not reached yet
(a partial index holds them) and, for a period that starts or ends inside a month, the live
redemptions of those edge days. ``use_rollups=False`` gives the same figure from the redemptions alone;
tests/test_redemption_rollups.py checks both agree, before and after folds, undos and late uploads.
"""

# ruff: noqa: S608 (every statement here is built from constant fragments; values are bound)
from __future__ import annotations

import time
from datetime import date, timedelta
from typing import Any, Literal

import msgspec

from pass_numerique.db import dialect
from pass_numerique.db.transaction import write_transaction
from pass_numerique.domain.reports.rollup_sql import BoundSql, whole_months, with_fresh_snapshots
from pass_numerique.domain.tables import Redemption

Key = Literal[
    "month", "period", "site", "site_territory", "booklet_territory", "programme", "theme", "age_band"
]

# Where each key comes from in a rollup table, and in a redemption joined to its booklet.
# A read takes the first table, in this order, that holds every key it needs.
_ROLLUPS: dict[str, tuple[str, ...]] = {
    "redemption_by_site_month": ("month", "site"),
    "redemption_by_territory_pair": ("month", "site", "booklet_territory"),
    "redemption_by_site_programme": ("month", "site", "booklet_territory", "programme"),
    "redemption_by_territory": ("month", "period", "booklet_territory", "programme", "theme", "age_band"),
    "redemption_by_site": ("month", "period", "site", "booklet_territory", "programme", "theme"),
}
_FACT_FROM = (
    "redemption r JOIN voucher v ON v.id = r.voucher JOIN booklet b ON b.id = v.booklet "
    "LEFT JOIN beneficiary be ON be.id = b.beneficiary"
)
# Rows the rollups do not reflect yet: the partial index redemption_to_fold holds them.
_NOT_FOLDED = "r.report_pending"


def _pending_from() -> str:
    """``_FACT_FROM`` reading the redemptions through redemption_to_fold (SQLite would rather
    skip-scan the (site, day) index than read the few pending rows)."""
    return _FACT_FROM.replace("redemption r", f"redemption r{dialect.indexed_by('redemption_to_fold')}", 1)


def _fact(key: str) -> str:
    return {
        "month": dialect.month_of_day("r.day"),
        "period": "r.period",
        "site": "r.site",
        "booklet_territory": "b.territory",
        "programme": "b.programme",
        "theme": "r.theme",
        "age_band": "COALESCE(be.age_band, 'non_communique')",
    }[key]


_REFRESH_STATISTICS_AFTER = 10_000
_DELTA = "(CASE WHEN r.undone_at IS NULL THEN 1 ELSE 0 END - CASE WHEN r.report_counted THEN 1 ELSE 0 END)"
"""What a pending redemption changes in the rollups: +1 new, -1 undone after being counted, 0 both."""


class FoldResult(msgspec.Struct, kw_only=True):
    redemptions: int
    """Pending redemption rows folded: new ones and undone ones."""
    seconds: float


async def fold() -> FoldResult:
    """Bring the rollups up to date with the redemptions, in one transaction (folds run one at a time)."""
    started = time.perf_counter()
    # PostgreSQL: an undo committed on a row this fold read makes it start again.
    folded = await with_fresh_snapshots(_fold_once)
    if folded >= _REFRESH_STATISTICS_AFTER:
        # The planner's statistics still say "every row pending": it would scan the whole table
        # for the few pending rows until the next automatic analysis (SQLite has none).
        await Redemption.raw("ANALYZE redemption")
    return FoldResult(redemptions=folded, seconds=round(time.perf_counter() - started, 3))


async def _fold_once() -> int:
    async with write_transaction():
        # One snapshot for the whole fold: the rows summed are exactly the rows marked done below.
        # A row changed meanwhile (an undo) makes the UPDATE fail rather than be marked unseen;
        # rows inserted meanwhile are not in the snapshot and stay pending. Folds queue on the
        # rollups' lock (readers are not blocked).
        await dialect.lock_in_one_snapshot(list(_ROLLUPS))
        pending = await Redemption.count().where(Redemption.report_pending == True)  # noqa: E712
        if not pending:
            return 0
        for table, keys in _ROLLUPS.items():
            columns = ", ".join(keys)
            facts = ", ".join(_fact(k) for k in keys)
            groups = ", ".join(str(i + 1) for i in range(len(keys)))
            await Redemption.raw(
                f"INSERT INTO {table} ({columns}, redeemed, amount_cents) "
                f"SELECT {facts}, SUM({_DELTA}), SUM({_DELTA} * v.face_value_cents) FROM {_FACT_FROM} "
                f"WHERE r.report_pending GROUP BY {groups} "
                f"ON CONFLICT ({columns}) DO UPDATE SET redeemed = {table}.redeemed + excluded.redeemed, "
                f"amount_cents = {table}.amount_cents + excluded.amount_cents"
            )
            await Redemption.raw(f"DELETE FROM {table} WHERE redeemed = 0 AND amount_cents = 0")
        await Redemption.raw(
            "UPDATE redemption SET report_counted = (undone_at IS NULL), report_pending = false "
            "WHERE report_pending"
        )
        return pending


async def vacuum_after_bulk_fold() -> None:
    """After a fold of many rows (the first one): every folded row was rewritten to clear its
    flag. Reclaim the old versions and refresh the planner's statistics now (PostgreSQL) rather
    than when autovacuum comes by. VACUUM cannot run inside a transaction: the CLI calls this,
    never a request."""
    await dialect.reclaim_after_bulk_update(["redemption", "booklet", *_ROLLUPS, "booklet_by_month"])


# ---------------------------------------------------------------------------
# reading


class Selection(msgspec.Struct, kw_only=True):
    """Which live redemptions: local days ``start``..``end`` (both included) and filters."""

    start: date
    end: date
    today: date
    """No redemption is dated after today: a month that ends later is whole once it has begun."""
    territories: list[int] | None = None
    territory_of: Literal["booklet", "site"] = "booklet"
    site_id: int | None = None
    site_ids: list[int] | None = None
    """Only these sites (one page of the per-site table)."""
    programme_id: int | None = None
    theme: str | None = None


def _filters(sql: BoundSql, sel: Selection, column: Any) -> list[str]:
    """Conditions on one part of the union; ``column(key)`` names a key in that part."""
    out = []
    if sel.site_id is not None:
        out.append(f"{column('site')} = {sql.bind(sel.site_id)}")
    if sel.site_ids is not None:
        out.append(f"{column('site')} IN ({sql.bind_all(sel.site_ids)})")
    if sel.programme_id is not None:
        out.append(f"{column('programme')} = {sql.bind(sel.programme_id)}")
    if sel.theme:
        out.append(f"{column('theme')} = {sql.bind(sel.theme)}")
    if sel.territories is not None:
        ids = sql.bind_all(sel.territories)
        if sel.territory_of == "site":
            out.append(f"{column('site')} IN (SELECT id FROM partner_site WHERE territory IN ({ids}))")
        else:
            out.append(f"{column('booklet_territory')} IN ({ids})")
    return out


def _rollup_for(keys: set[str], sel: Selection) -> str | None:
    """The smaller rollup holding every key the read needs; None: read the redemptions."""
    needs = set(keys)
    if sel.site_id is not None:
        needs.add("site")  # the index redemption_by_site_of_site finds one site's rows
    if sel.territories is not None:
        needs.add("site" if sel.territory_of == "site" else "booklet_territory")
    if sel.site_ids is not None:
        needs.add("site")
    if sel.theme:
        needs.add("theme")
    if sel.programme_id is not None:
        needs.add("programme")
    return next((table for table, keys in _ROLLUPS.items() if needs <= set(keys)), None)


def _live_counts(sql: BoundSql, keys: list[str], sel: Selection, *, use_rollups: bool) -> str:
    """SQL for the live redemptions of the selection as rows ``(*keys, n, amount)``, to be summed:
    the rollup rows of the whole months, the rows not folded yet, the redemptions of the edge days."""
    table = _rollup_for(set(keys), sel) if use_rollups else None
    parts: list[str] = []
    whole = whole_months(sel.start, sel.end, sel.today) if table else None
    facts = "".join(f"{_fact(k)} AS {k}, " for k in keys)
    if whole is not None and table is not None:
        first, last = whole
        months = f"month >= {sql.bind(first.isoformat()[:7])} AND month <= {sql.bind(last.isoformat()[:7])}"
        parts.append(
            f"SELECT {''.join(f'{k}, ' for k in keys)}redeemed AS n, amount_cents AS amount "
            f"FROM {table} WHERE {' AND '.join([months, *_filters(sql, sel, lambda k: k)])}"
        )
        tail = [_NOT_FOLDED, f"r.day >= {sql.bind(first)}", f"r.day <= {sql.bind(last)}"]
        parts.append(
            f"SELECT {facts}{_DELTA} AS n, {_DELTA} * v.face_value_cents AS amount "
            f"FROM {_pending_from()} "
            f"WHERE {' AND '.join([*tail, *_filters(sql, sel, _fact)])}"
        )
        edges = [(sel.start, first - timedelta(days=1)), (last + timedelta(days=1), sel.end)]
    else:
        edges = [(sel.start, sel.end)]
    for low, high in edges:
        if low <= high:
            live = ["r.undone_at IS NULL", f"r.day >= {sql.bind(low)}", f"r.day <= {sql.bind(high)}"]
            parts.append(
                f"SELECT {facts}1 AS n, v.face_value_cents AS amount FROM {_FACT_FROM} "
                f"WHERE {' AND '.join([*live, *_filters(sql, sel, _fact)])}"
            )
    return " UNION ALL ".join(parts)


async def redemption_counts(group_by: list[Key], sel: Selection, *, use_rollups: bool = True) -> list[dict]:
    """Live redemptions of the selection grouped by ``group_by``: ``count`` and ``amount`` per group.

    ``site_territory`` is the site's territory today. With ``use_rollups=False`` this is the
    recount from the redemptions alone.
    """
    stored = [k if k != "site_territory" else "site" for k in group_by]
    sql = BoundSql()
    rows_sql = _live_counts(sql, stored, sel, use_rollups=use_rollups)
    outer = [f"s.{k}" if k != "site_territory" else "ps.territory" for k in group_by]
    join = " JOIN partner_site ps ON ps.id = s.site" if "site_territory" in group_by else ""
    select = "".join(f"{expr} AS {key}, " for expr, key in zip(outer, group_by, strict=True))
    query = f"SELECT {select}SUM(s.n) AS count, SUM(s.amount) AS amount FROM ({rows_sql}) s{join}" + (
        f" GROUP BY {', '.join(outer)}" if outer else ""
    )
    rows = await Redemption.raw(query, *sql.params)
    for row in rows:
        row["count"] = int(row["count"] or 0)
        row["amount"] = int(row["amount"] or 0)
    if not group_by:
        return rows or [{"count": 0, "amount": 0}]
    # A group whose redemptions were all undone since the last fold sums to nothing.
    return [row for row in rows if row["count"]]


async def ranked_sites(sel: Selection, limit: int | None, offset: int) -> tuple[list[dict], int]:
    """Sites with live redemptions in the selection, most vouchers first (then by name and id):
    rows ``site``, ``name``, ``territory``, ``count``, ``amount`` from ``offset`` (``limit`` rows;
    None: to the end), and how many sites there are in all.

    Ranked and cut in the database: a page of 50 returns 50 rows, not one per site.
    """
    sql = BoundSql()
    rows_sql = _live_counts(sql, ["site"], sel, use_rollups=True)
    page = f" LIMIT {sql.bind(limit)}" if limit is not None else dialect.no_limit()
    rows = await Redemption.raw(
        "SELECT g.site AS site, ps.name AS name, ps.territory AS territory, g.count AS count, "
        "g.amount AS amount, COUNT(*) OVER () AS total FROM ("
        f"SELECT s.site AS site, SUM(s.n) AS count, SUM(s.amount) AS amount FROM ({rows_sql}) s "
        # A site whose redemptions were all undone since the last fold sums to nothing.
        "GROUP BY s.site HAVING SUM(s.n) <> 0) g JOIN partner_site ps ON ps.id = g.site "
        f"ORDER BY g.count DESC, ps.name, g.site{page} OFFSET {sql.bind(offset)}",
        *sql.params,
    )
    if rows:
        total = int(rows[0]["total"])
    elif offset:  # past the last page (a stale link): the count comes with the first row
        total = (await ranked_sites(sel, 1, 0))[1]
    else:
        total = 0
    for row in rows:
        row["count"], row["amount"] = int(row["count"]), int(row["amount"])
        del row["total"]
    return rows, total


async def beneficiaries_by_site(sel: Selection, site_ids: list[int]) -> dict[int, int]:
    """Distinct beneficiaries per site of ``site_ids`` among the selected live redemptions.

    Not additive over months, so never from the rollups: counted from the redemptions of the
    sites asked for (one page of the per-site table). The beneficiary and the programme are
    copied on the redemption, and the index ``redemption_site_people`` holds them with the
    theme (m0029), so without a booklet-territory filter the count reads that index alone.
    """
    sql = BoundSql()
    conditions = [
        f"r.site IN ({sql.bind_all(site_ids)})",
        "r.undone_at IS NULL",
        f"r.day >= {sql.bind(sel.start)}",
        f"r.day <= {sql.bind(sel.end)}",
        *_filters(sql, sel, lambda key: "r.programme" if key == "programme" else _fact(key)),
    ]
    by_booklet = sel.territories is not None and sel.territory_of == "booklet"
    rows = await Redemption.raw(
        f"SELECT r.site AS site, COUNT(DISTINCT r.beneficiary) AS n "
        f"FROM {_FACT_FROM if by_booklet else 'redemption r'} "
        f"WHERE {' AND '.join(conditions)} GROUP BY r.site",
        *sql.params,
    )
    return {row["site"]: int(row["n"]) for row in rows}


async def site_totals_of_period(
    period: str, *, territories: list[int] | None, site_id: int | None
) -> list[dict]:
    """Live redemptions of one reimbursement period per site (``site``, ``count``, ``amount``):
    the statements of a month. Exact like ``redemption_counts``: the rollup rows of the period
    plus the rows not folded yet; ``territories`` are the sites' own."""
    rows = await site_totals_by_period(period, territories=territories, site_id=site_id)
    return [{key: row[key] for key in ("site", "count", "amount")} for row in rows]


async def site_totals_by_period(
    period: str | None, *, territories: list[int] | None, site_id: int | None
) -> list[dict]:
    """Live redemptions per reimbursement period and site (``period``, ``site``, ``count``,
    ``amount``), of one period or of every one (``None``: the months of the statements page)."""
    sql = BoundSql()

    def scope(column: str, period_column: str) -> list[str]:
        out = [] if period is None else [f"{period_column} = {sql.bind(period)}"]
        if site_id is not None:
            out.append(f"{column} = {sql.bind(site_id)}")
        if territories is not None:
            out.append(
                f"{column} IN (SELECT id FROM partner_site WHERE territory IN ({sql.bind_all(territories)}))"
            )
        return out

    folded = " AND ".join(["1 = 1", *scope("site", "period")])
    tail = " AND ".join([_NOT_FOLDED, *scope("r.site", "r.period")])
    rows = await Redemption.raw(
        "SELECT period, site, SUM(n) AS count, SUM(amount) AS amount FROM ("
        f"SELECT period, site, redeemed AS n, amount_cents AS amount FROM redemption_by_site WHERE {folded} "
        f"UNION ALL SELECT r.period AS period, r.site AS site, {_DELTA} AS n, "
        f"{_DELTA} * v.face_value_cents AS amount "
        f"FROM {_pending_from()} WHERE {tail}"
        ") s GROUP BY period, site",
        *sql.params,
    )
    return [
        {
            "period": row["period"],
            "site": row["site"],
            "count": int(row["count"]),
            "amount": int(row["amount"] or 0),
        }
        for row in rows
        if row["count"]
    ]
