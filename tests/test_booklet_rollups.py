"""The booklet funnel rollup plus the booklets not folded yet equal a recount, always.

Built on the hand-counted data set of test_reports.py (allocated stock, a booklet assigned from
a print run, expiry, cancellation with and without replacement, undo), then moved on: folds,
new redemptions and an undo after a fold, a cancellation with replacement, a new print run and
allocation, a validity extension, a booklet expiring during the current month. Every time, the
figures of every window and filter are compared with the recount, and the whole report with the
report read before the fold.
"""

from __future__ import annotations

import asyncio
import itertools
from datetime import date

import pytest

from conftest import World, load_migration, run
from pass_numerique.domain.issuance import lifecycle, stock
from pass_numerique.domain.redemption import redeem, undo
from pass_numerique.domain.reports import booklet_rollups
from pass_numerique.domain.tables import Booklet, BookletByMonth, BookletReportFact
from test_reports import NOW, RANGE, Data, at, build, issue_at, redeem_at, report

TODAY = NOW.date()
WINDOWS = [
    (RANGE.start, RANGE.end),  # whole months, ends today
    (date(2026, 1, 1), date(2026, 1, 31)),  # one whole month in the past
    (date(2026, 1, 8), date(2026, 2, 19)),  # both edges inside a month
    (date(2026, 2, 13), date(2026, 2, 13)),  # one day
    (date(2025, 12, 1), date(2026, 2, 28)),  # whole months, the last one ends before today
    (date(2026, 1, 19), date(2026, 3, 10)),  # an edge, then whole months up to today
    (date(2025, 2, 15), date(2026, 2, 10)),  # edge, whole months, edge
]


def selections(world: World) -> list[booklet_rollups.BookletSelection]:
    filters = [
        {},
        {"territories": [world.north.id]},
        {"territories": [world.south.id], "programme_id": world.programme.id},
        {"programme_id": world.programme.id + 1000},  # no such programme: nothing
    ]
    return [
        booklet_rollups.BookletSelection(start=start, end=end, today=TODAY, **extra)
        for (start, end), extra in itertools.product(WINDOWS, filters)
    ]


def canonical(figures: booklet_rollups.BookletFigures) -> tuple:
    stages = sorted(tuple(sorted(row.items(), key=lambda kv: kv[0])) for row in figures.stages)
    return stages, sorted(figures.first_use.items())


def assert_equal_to_recount(world: World) -> int:
    """Every selection, rollup + pending booklets + raw edges against the recount; returns rows compared."""
    compared = 0
    for sel in selections(world):
        fast = run(booklet_rollups.booklet_figures(sel))
        slow = run(booklet_rollups.booklet_figures(sel, use_rollups=False))
        assert canonical(fast) == canonical(slow), sel
        compared += len(slow.stages)
    return compared


def pending() -> int:
    return run(Booklet.count().where(Booklet.report_pending == True))  # noqa: E712


@pytest.fixture
def data(world: World) -> Data:
    return build(world)


def test_funnel_rollup_equals_a_recount_through_folds_and_changes(world: World, data: Data) -> None:
    before = report(world.admin)
    assert run(BookletByMonth.count()) == 0  # nothing folded: every booklet is read as pending
    assert assert_equal_to_recount(world) > 0

    booklets = run(Booklet.count())
    assert run(booklet_rollups.fold()).booklets == booklets
    assert run(booklet_rollups.fold()).booklets == 0  # nothing left
    assert run(BookletReportFact.count()) == booklets and pending() == 0
    assert report(world.admin) == before
    assert_equal_to_recount(world)

    # Changes after the fold: each marks its booklets pending (the trigger) and is read as such.
    x_codes = run(lifecycle.booklet_codes(world.issuer, data.serials["X"]))
    used = redeem_at(world, x_codes[:2], at(2026, 3, 10))
    assert pending() == 1
    run(
        undo.undo_redemption(
            world.coordinator,
            used.redeemed[0].redemption_id,
            undo.UndoRequest(reason="erreur"),
            now=at(2026, 3, 10),
        )
    )
    replaced = run(
        lifecycle.cancel_booklet(
            world.issuer,
            data.serials["Y"],
            lifecycle.CancelRequest(reason="perdu", replace=True),
            now=at(2026, 3, 9),
        )
    )
    assert replaced.replacement is not None
    assert pending() == 3  # X, Y and its replacement
    issue_at(world, at(2025, 3, 5))  # valid until 2026-03-05: expired this month, before today
    run(
        stock.create_print_run(
            world.coordinator,
            stock.PrintRunCreate(territory_id=world.north.id, programme_id=world.programme.id, quantity=2),
            now=at(2026, 3, 2),
        )
    )
    run(
        stock.allocate(
            world.coordinator,
            stock.AllocateRequest(structure_id=world.structure.id, count=1),
            now=at(2026, 3, 3),
        )
    )
    changed = report(world.admin)
    assert changed.totals.booklets_printed == before.totals.booklets_printed + 3  # the replacement is not
    assert changed.totals.vouchers_replaced == before.totals.vouchers_replaced + 10
    assert changed.totals.vouchers_expired_unused == before.totals.vouchers_expired_unused + 10
    assert changed.totals.booklets_started == before.totals.booklets_started + 1  # X, one use left
    assert_equal_to_recount(world)
    assert run(booklet_rollups.fold()).booklets > 0 and pending() == 0
    assert report(world.admin) == changed
    assert_equal_to_recount(world)

    # A validity extension rewrites many booklets at once.
    run(
        lifecycle.extend_validity(
            world.admin, world.programme.id, lifecycle.ExtendValidity(valid_until=date(2027, 12, 31))
        )
    )
    assert pending() > 0
    assert_equal_to_recount(world)
    run(booklet_rollups.fold())
    assert_equal_to_recount(world)
    assert report(world.admin).totals.vouchers_expired_unused < changed.totals.vouchers_expired_unused


def test_no_empty_rollup_rows_are_kept(world: World, data: Data) -> None:
    run(booklet_rollups.fold())
    run(
        lifecycle.cancel_booklet(
            world.issuer, data.serials["X"], lifecycle.CancelRequest(reason="perdu"), now=at(2026, 3, 9)
        )
    )
    run(booklet_rollups.fold())
    assert (
        run(BookletByMonth.count().where((BookletByMonth.booklets == 0) & (BookletByMonth.vouchers == 0)))
        == 0
    )
    assert_equal_to_recount(world)


def test_folds_running_beside_redemptions_stay_exact(world: World, data: Data) -> None:
    run(booklet_rollups.fold())
    codes = run(lifecycle.booklet_codes(world.issuer, data.serials["Y"]))

    async def use(index: int) -> None:
        await redeem.redeem(
            world.agent,
            redeem.RedeemRequest(
                codes=[codes[index].short_code], theme="email", request_id=f"booklet-{index:04d}"
            ),
            now=at(2026, 3, 10),
        )

    async def folds() -> None:
        for _ in range(4):
            await booklet_rollups.fold()

    async def scenario() -> None:
        await asyncio.gather(*(use(i) for i in range(10)), folds(), folds())

    run(scenario())
    assert_equal_to_recount(world)
    run(booklet_rollups.fold())
    assert pending() == 0
    assert_equal_to_recount(world)
    assert report(world.admin).totals.booklets_fully_used == 2  # B2, and now Y


def test_m0026_keys_rows_counted_per_structure_as_the_fold_now_does(world: World, data: Data) -> None:
    """An upgraded database: per-territory figures counted per structure come back to the fold's rows."""
    module = load_migration("m0026_booklet_rollup_territory_only.py")

    run(booklet_rollups.fold())
    columns = [c for c in BookletByMonth._meta.columns if c._meta.name != "id"]

    def rows() -> list[tuple]:
        return sorted(tuple(sorted(r.items())) for r in run(BookletByMonth.select(*columns)))

    folded = rows()
    # The rollup as kept before: each of those rows split between the two structures.
    moved = BookletByMonth.stage.is_in(["printed", "cancelled", "replaced", "unused"])
    split = run(BookletByMonth.select().where(moved))
    assert {r["stage"] for r in split} == {"printed", "cancelled", "replaced", "unused"}
    assert all(r["structure"] == 0 for r in split)
    run(BookletByMonth.delete().where(moved))
    for r in split:
        for structure, share in ((world.structure.id, 1), (world.structure_south.id, 0)):
            booklets = r["booklets"] // 2 + (r["booklets"] % 2) * share
            vouchers = r["vouchers"] // 2 + (r["vouchers"] % 2) * share
            run(
                BookletByMonth.insert(
                    BookletByMonth(
                        stage=r["stage"],
                        month=r["month"],
                        until_month=r["until_month"],
                        days=r["days"],
                        territory=r["territory"],
                        structure=structure,
                        programme=r["programme"],
                        booklets=booklets,
                        vouchers=vouchers,
                    )
                )
            )
    assert rows() != folded
    for statement in module.STATEMENTS:
        run(BookletByMonth.raw(statement))
    assert rows() == folded
    assert_equal_to_recount(world)


def test_m0034_keys_negative_first_use_rows_at_day_zero_as_the_fold_now_does(
    world: World, data: Data
) -> None:
    """An upgraded database: first uses folded under a negative time (a redemption dated before the
    issuance, accepted before issue 17) come back to day 0, where the fold and the reads count them."""
    module = load_migration("m0034_first_use_never_negative.py")
    for issued, used, recorded in (
        (at(2026, 2, 27), at(2026, 2, 28), at(2026, 3, 1)),
        (at(2026, 2, 27), at(2026, 2, 28), at(2026, 3, 2)),
        (at(2026, 2, 20), at(2026, 2, 21), at(2026, 2, 22)),
    ):
        booklet, codes = issue_at(world, issued)
        redeem_at(world, codes[:1], used)
        run(Booklet.update({Booklet.issued_at: recorded}).where(Booklet.serial == booklet.serial))
    run(booklet_rollups.fold())
    columns = [c for c in BookletByMonth._meta.columns if c._meta.name != "id"]

    def rows() -> list[tuple]:
        return sorted(tuple(sorted(r.items())) for r in run(BookletByMonth.select(*columns)))

    folded = rows()
    day_zero = (BookletByMonth.stage == "first_use") & (BookletByMonth.days == 0)
    march = run(BookletByMonth.select().where(day_zero & (BookletByMonth.month == "2026-03")).first())
    assert march["booklets"] == 2
    # The rollup as the fold kept it before: one of March's at -1 day, February's at -2 days.
    run(BookletByMonth.update({BookletByMonth.booklets: 1}).where(BookletByMonth.id == march["id"]))
    del march["id"]
    run(BookletByMonth.insert(BookletByMonth(**{**march, "days": -1, "booklets": 1})))
    run(
        BookletByMonth.update({BookletByMonth.days: -2}).where(day_zero & (BookletByMonth.month == "2026-02"))
    )
    assert rows() != folded
    for statement in module.STATEMENTS:
        run(BookletByMonth.raw(statement))
    assert rows() == folded
    assert_equal_to_recount(world)
