"""Monthly rollups of the booklet funnel, exact at every moment.

The funnel (printed → allocated → issued → first use → fully used, sleeping stock, vouchers
cancelled and expired unused, time to first use) would otherwise read every booklet of the
period: a million rows at national scale. ``booklet_by_month`` counts them per stage, local
month of the stage's date, territory, distributing structure and programme.

Any change to a booklet column the funnel reads marks the row ``report_pending`` (a database
trigger, m0012: no writer can forget it). ``fold`` takes the pending booklets, subtracts what the
rollup counted for each (its facts as last folded, kept in ``booklet_report_fact``), adds what
they count now, and clears the flag, in one transaction. A read sums the rollup rows of the
whole months of the period, corrects them in the same way for the booklets still pending
(a partial index holds them, and they are few), and reads the booklets themselves for the edge
days of a period that starts or ends inside a month and for the vouchers expired during the current
month.
``use_rollups=False`` reads the booklets alone; tests/test_booklet_rollups.py checks both agree.
"""

# ruff: noqa: S608 (every statement here is built from constant fragments; values are bound)
from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from datetime import UTC, date, datetime, timedelta
from typing import Any

import msgspec

from pass_numerique.db import dialect
from pass_numerique.db.transaction import write_transaction
from pass_numerique.domain.clock import local_zone, month_of
from pass_numerique.domain.reports.rollup_sql import BoundSql, whole_months, with_fresh_snapshots
from pass_numerique.domain.tables import Booklet

FUNNEL_STAGES = ("printed", "allocated", "issued", "started", "fully_used", "sleeping", "vouchers_issued")
STAGES = (*FUNNEL_STAGES, "vouchers_cancelled", "vouchers_replaced", "vouchers_expired")
"""The per (territory, structure) counts of ``BookletFigures.stages``."""

BY_TERRITORY_ONLY = frozenset({"printed", "vouchers_cancelled", "vouchers_replaced", "vouchers_expired"})
"""Figures counted per territory, never per structure (the structure table does not show them):
the rollup keys them with no structure, a quarter of its rows fewer."""

_BATCH = 5_000  # booklets per read: the fold computes in Python, between awaits, a slice at a time
_NO_STRUCTURE = 0  # the rollup key has no NULL: a booklet still in stock has structure 0

# What the funnel reads of a booklet; the shadow table holds the same columns as last folded.
_FACT_COLUMNS = (
    "territory",
    "structure",
    "programme",
    "status",
    "voucher_count",
    "used_count",
    "created_at",
    "allocated_at",
    "issued_at",
    "cancelled_at",
    "valid_until",
    "first_used_at",
    "replaced",
    "original",
)
# A replacement booklet's vouchers were counted with the one it replaces: it is not "original".
_FACTS_OF_BOOKLET = (
    ", ".join(f"b.{c} AS {c}" for c in _FACT_COLUMNS[:-2])
    + ", b.replaced_by IS NOT NULL AS replaced"
    + ", NOT EXISTS (SELECT 1 FROM booklet o WHERE o.replaced_by = b.id) AS original"
)


class Facts(msgspec.Struct, frozen=True):
    territory: int
    structure: int | None
    programme: int
    status: str
    voucher_count: int
    used_count: int
    created_at: datetime
    allocated_at: datetime | None
    issued_at: datetime | None
    cancelled_at: datetime | None
    valid_until: date | None
    first_used_at: datetime | None
    replaced: bool
    original: bool


# (stage, month, until_month, days, territory, structure, programme)
RollupKey = tuple[str, str, str, int, int, int, int]


def _facts(row: dict, prefix: str = "") -> Facts | None:
    if row.get(prefix + "territory") is None:
        return None
    return Facts(
        territory=row[prefix + "territory"],
        structure=row[prefix + "structure"],
        programme=row[prefix + "programme"],
        status=row[prefix + "status"],
        voucher_count=int(row[prefix + "voucher_count"]),
        used_count=int(row[prefix + "used_count"]),
        created_at=dialect.timestamp_read(row[prefix + "created_at"]),  # type: ignore[arg-type]
        allocated_at=dialect.timestamp_read(row[prefix + "allocated_at"]),
        issued_at=dialect.timestamp_read(row[prefix + "issued_at"]),
        cancelled_at=dialect.timestamp_read(row[prefix + "cancelled_at"]),
        valid_until=dialect.date_read(row[prefix + "valid_until"]),
        first_used_at=dialect.timestamp_read(row[prefix + "first_used_at"]),
        replaced=bool(row[prefix + "replaced"]),
        original=bool(row[prefix + "original"]),
    )


def contributions(facts: Facts) -> Iterator[tuple[RollupKey, int, int]]:
    """What one booklet counts in the rollup: ``(key, booklets, vouchers)``.

    The same rules as the recount (``_raw_stages``), with each date reduced to its local month.
    """
    structure = facts.structure or _NO_STRUCTURE

    def key(stage: str, month: str, until: str = "", days: int = -1, structure: int = structure) -> RollupKey:
        return (stage, month, until, days, facts.territory, structure, facts.programme)

    unused = facts.voucher_count - facts.used_count
    # Figures the reports show per territory only are kept without the structure (m0026).
    if facts.original:
        yield key("printed", month_of(facts.created_at), structure=_NO_STRUCTURE), 1, 0
    if facts.allocated_at is not None:
        yield key("allocated", month_of(facts.allocated_at)), 1, 0
    if facts.status == "allocated":
        yield key("sleeping", ""), 1, 0
    if facts.status == "cancelled" and facts.cancelled_at is not None and unused:
        stage = "replaced" if facts.replaced else "cancelled"
        yield key(stage, month_of(facts.cancelled_at), structure=_NO_STRUCTURE), 0, unused
    if facts.issued_at is None or not facts.original:
        return
    month = month_of(facts.issued_at)
    yield key("issued", month), 1, facts.voucher_count
    if facts.used_count > 0:
        yield key("started", month), 1, 0
    if facts.status == "issued":
        if facts.used_count == facts.voucher_count:
            yield key("fully_used", month), 1, 0
        elif facts.valid_until is not None:
            yield (
                key("unused", month, until=facts.valid_until.isoformat()[:7], structure=_NO_STRUCTURE),
                0,
                unused,
            )
    if facts.first_used_at is not None:
        # Never negative (as ``_raw_first_use``): a redemption dated before the issuance, accepted
        # before the rule that now refuses or moves it (voucher_state.moment_after_issue), counts as
        # used on the day of issuance. A negative key would collide with the -1 of the other rows.
        days = max(0, (facts.first_used_at - facts.issued_at) // timedelta(days=1))
        # Time to first use is one histogram for the whole scope: no structure in its key.
        yield key("first_use", month, days=days, structure=_NO_STRUCTURE), 1, 0


def _deltas(rows: list[dict]) -> dict[RollupKey, list[int]]:
    """Rollup changes for booklets read with their current facts and their ``s_`` shadow facts."""
    out: dict[RollupKey, list[int]] = {}
    for row in rows:
        for facts, sign in ((_facts(row), 1), (_facts(row, "s_"), -1)):
            if facts is None:
                continue
            for key, booklets, vouchers in contributions(facts):
                into = out.setdefault(key, [0, 0])
                into[0] += sign * booklets
                into[1] += sign * vouchers
    return {key: value for key, value in out.items() if value != [0, 0]}


def _pending_with_shadow() -> str:
    """The pending booklets (partial index ``booklet_to_fold``) with their facts as last folded."""
    return (
        f"SELECT b.id AS id, {_FACTS_OF_BOOKLET}, "
        + ", ".join(f"s.{c} AS s_{c}" for c in _FACT_COLUMNS)
        + f" FROM booklet b{dialect.indexed_by('booklet_to_fold')} "
        "LEFT JOIN booklet_report_fact s ON s.id = b.id WHERE b.report_pending"
    )


# ---------------------------------------------------------------------------
# folding


class FoldResult(msgspec.Struct, kw_only=True):
    booklets: int
    """Pending booklets folded."""
    seconds: float


async def fold() -> FoldResult:
    """Bring the booklet rollup up to date, in one transaction (folds run one at a time)."""
    started = time.perf_counter()
    # PostgreSQL: a booklet this fold read changed meanwhile makes it start again.
    folded = await with_fresh_snapshots(_fold_once)
    return FoldResult(booklets=folded, seconds=round(time.perf_counter() - started, 3))


async def _fold_once() -> int:
    async with write_transaction():
        # One snapshot: the booklets summed are exactly the ones marked done below. A booklet
        # changed meanwhile makes the UPDATE fail (and the fold retry) rather than be marked
        # unseen; booklets changed after the snapshot stay pending.
        await dialect.lock_in_one_snapshot(["booklet_by_month"])
        deltas: dict[RollupKey, list[int]] = {}
        folded = 0
        last_id = 0
        while True:  # in batches: the first fold reads every booklet
            rows = await Booklet.raw(
                f"{_pending_with_shadow()} AND b.id > {{}} ORDER BY b.id LIMIT {_BATCH}", last_id
            )
            if not rows:
                break
            folded += len(rows)
            last_id = rows[-1]["id"]
            for key, (booklets, vouchers) in _deltas(rows).items():
                into = deltas.setdefault(key, [0, 0])
                into[0] += booklets
                into[1] += vouchers
        if not folded:
            return 0
        await _add_to_rollup(deltas)
        await Booklet.raw(
            "DELETE FROM booklet_report_fact WHERE id IN (SELECT id FROM booklet WHERE report_pending)"
        )
        await Booklet.raw(
            f"INSERT INTO booklet_report_fact (id, {', '.join(_FACT_COLUMNS)}) "
            f"SELECT b.id, {_FACTS_OF_BOOKLET} FROM booklet b WHERE b.report_pending"
        )
        await Booklet.raw("UPDATE booklet SET report_pending = false WHERE report_pending")
        return folded


async def _add_to_rollup(deltas: dict[RollupKey, list[int]]) -> None:
    columns = "stage, month, until_month, days, territory, structure, programme"
    items = [
        (*key, booklets, vouchers) for key, (booklets, vouchers) in deltas.items() if booklets or vouchers
    ]
    for start in range(0, len(items), 1_000):
        chunk = items[start : start + 1_000]
        values = ", ".join("({}, {}, {}, {}, {}, {}, {}, {}, {})" for _ in chunk)
        await Booklet.raw(
            f"INSERT INTO booklet_by_month ({columns}, booklets, vouchers) VALUES {values} "
            f"ON CONFLICT ({columns}) DO UPDATE SET "
            "booklets = booklet_by_month.booklets + excluded.booklets, "
            "vouchers = booklet_by_month.vouchers + excluded.vouchers",
            *[value for item in chunk for value in item],
        )
    await Booklet.raw("DELETE FROM booklet_by_month WHERE booklets = 0 AND vouchers = 0")


# ---------------------------------------------------------------------------
# reading


class BookletSelection(msgspec.Struct, kw_only=True):
    """Booklets of the local days ``start``..``end`` (both included), in scope."""

    start: date
    end: date
    today: date
    territories: list[int] | None = None
    """None: every territory."""
    programme_id: int | None = None


class BookletFigures(msgspec.Struct, kw_only=True):
    stages: list[dict]
    """One row per (territory, structure): every name of ``STAGES``; the figures of
    ``BY_TERRITORY_ONLY`` are in the rows with no structure."""
    first_use: dict[int, int]
    """``{days from issuance to first use: booklets}`` of the booklets issued in the period."""


def sum_stages(rows: list[dict], key: str) -> dict[int, dict[str, int]]:
    """``BookletFigures.stages`` summed per ``territory`` or per ``structure`` (booklets with no
    structure left out)."""
    out: dict[int, dict[str, int]] = {}
    for row in rows:
        if row[key] is None:
            continue
        into = out.setdefault(row[key], dict.fromkeys(STAGES, 0))
        for name in STAGES:
            into[name] += row[name]
    return out


def scope_conditions(sql: BoundSql, sel: BookletSelection, prefix: str = "b.") -> list[str]:
    """The selection's territories and programme as conditions on booklet columns."""
    out = []
    if sel.territories is not None:
        out.append(f"{prefix}territory IN ({sql.bind_all(sel.territories)})")
    if sel.programme_id is not None:
        out.append(f"{prefix}programme = {sql.bind(sel.programme_id)}")
    return out


def _midnight(day: date) -> datetime:
    # Piccolo's SQLite adapter stores timestamptz as UTC text: bound values must be UTC too.
    return datetime.combine(day, datetime.min.time(), tzinfo=local_zone()).astimezone(UTC)


def within_days(sql: BoundSql, column: str, spans: list[tuple[date, date]]) -> str:
    """``b.column`` falls on one of the local days of ``spans`` (each both included)."""
    parts = [
        f"(b.{column} >= {sql.bind(_midnight(low))} "
        f"AND b.{column} < {sql.bind(_midnight(high + timedelta(days=1)))})"
        for low, high in spans
    ]
    return "(" + " OR ".join(parts or ["1 = 0"]) + ")"


# Booklets issued to replace a cancelled one are left out of printed and issued: their vouchers
# were counted with the original. Few booklets are replaced: a hash join on their ids.
REPLACEMENTS_JOIN = (
    "LEFT JOIN (SELECT DISTINCT replaced_by AS id FROM booklet WHERE replaced_by IS NOT NULL) x "
    "ON x.id = b.id"
)


def _raw_stages_sql(
    sql: BoundSql, sel: BookletSelection, spans: list[tuple[date, date]], *, recount: bool
) -> str:
    """Every stage of the booklets whose stage date falls in ``spans`` (local days, both included).

    ``recount``: the whole selection, sleeping stock included (it has no date). Otherwise only the
    booklets with a date in the spans are read (each date column has an index).
    """

    def within(column: str) -> str:
        return within_days(sql, column, spans)

    def issued() -> str:
        return f"{within('issued_at')} AND x.id IS NULL"

    def cancelled(replaced: bool) -> str:
        carried = "b.replaced_by IS NOT NULL" if replaced else "b.replaced_by IS NULL"
        return f"b.status = 'cancelled' AND {carried} AND {within('cancelled_at')}"

    unused = "b.voucher_count - b.used_count"
    stages: dict[str, tuple[Callable[[], str], str]] = {
        "printed": (lambda: f"{within('created_at')} AND x.id IS NULL", "1"),
        "allocated": (lambda: within("allocated_at"), "1"),
        "issued": (issued, "1"),
        "started": (lambda: f"{issued()} AND b.used_count > 0", "1"),
        "fully_used": (lambda: f"{issued()} AND b.status = 'issued' AND b.used_count = b.voucher_count", "1"),
        "sleeping": (lambda: "b.status = 'allocated'" if recount else "1 = 0", "1"),
        "vouchers_issued": (issued, "b.voucher_count"),
        "vouchers_cancelled": (lambda: cancelled(False), unused),
        "vouchers_replaced": (lambda: cancelled(True), unused),
        "vouchers_expired": (
            lambda: f"b.status = 'issued' AND b.valid_until < {sql.bind(sel.today)} AND {issued()}",
            unused,
        ),
    }
    sums = ", ".join(
        f"SUM(CASE WHEN {condition()} THEN {value} ELSE 0 END) AS {name}"
        for name, (condition, value) in stages.items()
    )
    conditions = ["1 = 1"]
    if not recount:
        dates = ("created_at", "allocated_at", "issued_at", "cancelled_at")
        conditions.append("(" + " OR ".join(within(column) for column in dates) + ")")
    return (
        f"SELECT b.territory AS territory, b.structure AS structure, {sums} "
        f"FROM booklet b {REPLACEMENTS_JOIN} "
        f"WHERE {' AND '.join([*conditions, *scope_conditions(sql, sel)])} GROUP BY b.territory, b.structure"
    )


async def _expired_since(sel: BookletSelection, whole: tuple[date, date], since: date) -> list[dict]:
    """Vouchers of booklets issued in the whole months that expired from ``since`` to yesterday."""
    sql = BoundSql()
    conditions = [
        "b.status = 'issued'",  # the partial index booklet_issued_valid_until
        f"b.valid_until >= {sql.bind(since)}",
        f"b.valid_until < {sql.bind(sel.today)}",
        within_days(sql, "issued_at", [whole]),
        "x.id IS NULL",
        *scope_conditions(sql, sel),
    ]
    return await Booklet.raw(
        "SELECT b.territory AS territory, b.structure AS structure, "
        "SUM(b.voucher_count - b.used_count) AS vouchers_expired "
        f"FROM booklet b{dialect.indexed_by('booklet_issued_valid_until')} {REPLACEMENTS_JOIN} "
        f"WHERE {' AND '.join(conditions)} GROUP BY b.territory, b.structure",
        *sql.params,
    )


async def _raw_first_use(sel: BookletSelection, spans: list[tuple[date, date]]) -> dict[int, int]:
    if not spans:
        return {}
    sql = BoundSql()
    conditions = [
        within_days(sql, "issued_at", spans),
        "b.first_used_at IS NOT NULL",
        "x.id IS NULL",
        *scope_conditions(sql, sel),
    ]
    # Never negative, as the fold counts it (``contributions``).
    elapsed = dialect.whole_days_between("b.first_used_at", "b.issued_at")
    days = f"CASE WHEN {elapsed} < 0 THEN 0 ELSE {elapsed} END"
    rows = await Booklet.raw(
        f"SELECT {days} AS days, COUNT(*) AS booklets "
        f"FROM booklet b {REPLACEMENTS_JOIN} WHERE {' AND '.join(conditions)} GROUP BY 1",
        *sql.params,
    )
    return {int(r["days"]): int(r["booklets"]) for r in rows}


# What a rollup row of each stage adds to the figures: (figure, from its booklets or its vouchers).
_FIGURES_OF_STAGE: dict[str, tuple[tuple[str, str], ...]] = {
    "issued": (("issued", "booklets"), ("vouchers_issued", "vouchers")),
    "cancelled": (("vouchers_cancelled", "vouchers"),),
    "replaced": (("vouchers_replaced", "vouchers"),),
    "unused": (("vouchers_expired", "vouchers"),),
    **{
        stage: ((stage, "booklets"),)
        for stage in ("printed", "allocated", "started", "fully_used", "sleeping")
    },
}


def _rollup_figures_sql(where: str) -> str:
    """The rollup rows matching ``where`` as figures: one row per (territory, structure) with a
    column per figure (``days`` -1), and one per day of the first-use histogram (``first_use``).

    Summed per stage first, then turned into columns over those few thousand sums, so the
    database hands back a row per structure rather than one per stage and structure.
    """
    figures = [
        (figure, stage, source) for stage, pairs in _FIGURES_OF_STAGE.items() for figure, source in pairs
    ]
    by_stage = ", ".join(
        f"SUM(CASE WHEN stage = '{stage}' THEN {source} ELSE 0 END) AS {figure}"
        for figure, stage, source in figures
    )
    none = ", ".join(f"0 AS {figure}" for figure, _, _ in figures)
    return (
        "WITH g AS (SELECT stage, days, territory, structure, SUM(booklets) AS booklets, "
        f"SUM(vouchers) AS vouchers FROM booklet_by_month WHERE {where} "
        "GROUP BY stage, days, territory, structure) "
        f"SELECT territory, NULLIF(structure, 0) AS structure, -1 AS days, {by_stage}, 0 AS first_use "
        "FROM g WHERE stage <> 'first_use' GROUP BY territory, structure "
        f"UNION ALL SELECT 0, NULL, days, {none}, SUM(booklets) "
        "FROM g WHERE stage = 'first_use' GROUP BY days"
    )


class _Accumulator:
    """Stage counts per (territory, structure) and the first-use histogram, summed from parts."""

    def __init__(self) -> None:
        self.rows: dict[tuple[int, int | None], dict[str, int]] = {}
        self.first_use: dict[int, int] = {}

    def add(self, territory: int, structure: int | None, stage: str, value: int) -> None:
        if value:
            if stage in BY_TERRITORY_ONLY:  # as the rollup keeps them, whichever part counted them
                structure = None
            # A dashboard adds thousands of rollup rows: a new row is made only when needed.
            row = self.rows.get((territory, structure))
            if row is None:
                row = self.rows[(territory, structure)] = dict.fromkeys(STAGES, 0)
            row[stage] += value

    def add_rows(self, rows: list[dict]) -> None:
        for row in rows:
            for stage in STAGES:
                if stage in row:
                    self.add(row["territory"], row["structure"], stage, int(row[stage] or 0))

    def add_first_use(self, histogram: dict[int, int]) -> None:
        for days, booklets in histogram.items():
            self.first_use[days] = self.first_use.get(days, 0) + booklets

    def add_rollup(
        self, stage: str, days: int, territory: int, structure: int, booklets: Any, vouchers: Any
    ) -> None:
        if stage == "first_use":
            self.add_first_use({days: int(booklets or 0)})
            return
        counts = {"booklets": booklets, "vouchers": vouchers}
        for figure, source in _FIGURES_OF_STAGE[stage]:
            self.add(territory, structure or None, figure, int(counts[source] or 0))

    def result(self) -> BookletFigures:
        stages = [
            {"territory": territory, "structure": structure, **counts}
            for (territory, structure), counts in self.rows.items()
            if any(counts.values())
        ]
        return BookletFigures(stages=stages, first_use={days: n for days, n in self.first_use.items() if n})


async def booklet_figures(sel: BookletSelection, *, use_rollups: bool = True) -> BookletFigures:
    """Funnel stages per (territory, structure) and the time to first use of the selection.

    Run it inside ``read_snapshot()``: it reads the rollup and the pending booklets separately.
    With ``use_rollups=False`` the same figures are counted from the booklets alone.
    """
    out = _Accumulator()
    whole = whole_months(sel.start, sel.end, sel.today) if use_rollups else None
    if whole is None:
        spans = [(sel.start, sel.end)]
        sql = BoundSql()
        out.add_rows(await Booklet.raw(_raw_stages_sql(sql, sel, spans, recount=True), *sql.params))
        out.add_first_use(await _raw_first_use(sel, spans))
        return out.result()

    first, last = whole
    months = (first.isoformat()[:7], last.isoformat()[:7])
    this_month = sel.today.replace(day=1)
    current = this_month.isoformat()[:7]
    # The rollup: whole months, sleeping stock (not dated), vouchers expired before this month.
    sql = BoundSql()
    conditions = [
        f"((month >= {sql.bind(months[0])} AND month <= {sql.bind(months[1])}) OR stage = 'sleeping')",
        f"(stage <> 'unused' OR until_month < {sql.bind(current)})",
        *scope_conditions(sql, sel, prefix=""),
    ]
    for row in await Booklet.raw(_rollup_figures_sql(" AND ".join(conditions)), *sql.params):
        if row["days"] >= 0:
            out.add_first_use({row["days"]: int(row["first_use"])})
        else:
            out.add_rows([row])
    # The booklets changed since the last fold: what they count now instead of what the rollup holds.
    sql = BoundSql()
    pending = await Booklet.raw(
        _pending_with_shadow() + "".join(f" AND {c}" for c in scope_conditions(sql, sel)), *sql.params
    )
    for (stage, month, until, days, territory, structure, _), (booklets, vouchers) in _deltas(
        pending
    ).items():
        in_period = months[0] <= month <= months[1] or stage == "sleeping"
        if in_period and (stage != "unused" or until < current):
            out.add_rollup(stage, days, territory, structure, booklets, vouchers)
    # The booklets themselves: edge days, and vouchers expired this month (before today).
    edges = [(sel.start, first - timedelta(days=1)), (last + timedelta(days=1), sel.end)]
    edges = [(low, high) for low, high in edges if low <= high]
    if edges:
        sql = BoundSql()
        out.add_rows(await Booklet.raw(_raw_stages_sql(sql, sel, edges, recount=False), *sql.params))
        out.add_first_use(await _raw_first_use(sel, edges))
    out.add_rows(await _expired_since(sel, whole, this_month))
    return out.result()
