"""The per-booklet usage columns equal a recount from the vouchers and redemptions.

The data set of test_reports.py covers both redemption paths' cases: several vouchers at once,
a late upload dated before the booklet's first use so far, an undo, a replacement booklet.
"""

from __future__ import annotations

from conftest import World, run
from pass_numerique.domain.redemption import undo
from pass_numerique.domain.reports import booklet_usage
from pass_numerique.domain.tables import Booklet
from test_reports import Data, at, build


def stored() -> dict[int, tuple[int, object]]:
    rows = run(Booklet.select(Booklet.id, Booklet.used_count, Booklet.first_used_at))
    return {
        r["id"]: (r["used_count"], r["first_used_at"]) for r in rows if r["used_count"] or r["first_used_at"]
    }


def test_usage_columns_equal_the_recount(world: World) -> None:
    data: Data = build(world)
    counted = run(booklet_usage.recount())
    assert stored() == counted
    b1 = run(Booklet.select(Booklet.id).where(Booklet.serial == data.serials["B1"]).first())["id"]
    # B1: 2 used 2026-01-20, the late upload of 2026-01-30, 1 on 2026-02-05.
    assert counted[b1] == (4, at(2026, 1, 20))

    # Undoing B1's first use moves its first use to the next live one.
    first = next(
        r
        for r in run(undo.list_redemptions(world.admin, limit=500))
        if r.booklet_serial == data.serials["B2"] and r.number == 1
    )
    run(
        undo.undo_redemption(
            world.coordinator, first.id, undo.UndoRequest(reason="erreur"), now=at(2026, 2, 20)
        )
    )
    b2 = run(Booklet.select(Booklet.id).where(Booklet.serial == data.serials["B2"]).first())["id"]
    assert stored()[b2][0] == 9
    assert stored() == run(booklet_usage.recount())
