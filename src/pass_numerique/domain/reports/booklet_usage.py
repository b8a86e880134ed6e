"""Per-booklet usage kept on the booklet row: vouchers redeemed and the first live use.

The reports' funnel (« entamés », fully used, time to first use, expired and expiring vouchers)
reads these two columns instead of joining ten million vouchers. They are written in the same
transaction as the redemption or its undo (one row per booklet: no contention between sites), and
``recount`` gives what they must equal (tests/test_booklet_usage.py).
"""

from __future__ import annotations

from datetime import datetime

from piccolo.query.functions.aggregate import Count

from pass_numerique.domain.states import VoucherStatus
from pass_numerique.domain.tables import Booklet, Redemption, Voucher

_FIRST_LIVE_USE = (
    "(SELECT MIN(r.redeemed_at) FROM redemption r JOIN voucher v ON v.id = r.voucher "
    "WHERE v.booklet = booklet.id AND r.undone_at IS NULL)"
)


async def count_redeemed(booklet_id: int, vouchers: int, moment: datetime) -> int:
    """``vouchers`` of the booklet were just redeemed at ``moment`` (inside the redemption's
    transaction); returns how many of its vouchers are still available."""
    # The count first: its UPDATE locks the row, so the first use read back cannot be overtaken
    # by a concurrent redemption of another voucher of the booklet before it is compared.
    counted = (
        await Booklet.update({Booklet.used_count: Booklet.used_count + vouchers})
        .where(Booklet.id == booklet_id)
        .returning(Booklet.first_used_at, Booklet.used_count, Booklet.voucher_count)
    )[0]
    first = counted["first_used_at"]
    # An offline redemption uploaded late may predate the first use recorded so far.
    if first is None or moment < first:
        await Booklet.update({Booklet.first_used_at: moment}).where(Booklet.id == booklet_id)
    # A booklet being redeemed is issued, so none of its vouchers is cancelled (only cancelling the
    # whole booklet cancels vouchers): the others are all available. Spares counting them.
    return counted["voucher_count"] - counted["used_count"]


async def count_undone(booklet_id: int) -> None:
    """One voucher of the booklet was put back (inside the undo's transaction)."""
    await Booklet.update({Booklet.used_count: Booklet.used_count - 1}).where(Booklet.id == booklet_id)
    await Booklet.raw(
        f"UPDATE booklet SET first_used_at = {_FIRST_LIVE_USE} WHERE id = {{}}",  # noqa: S608 (constant SQL)
        booklet_id,
    )


async def recount(booklet_ids: list[int] | None = None) -> dict[int, tuple[int, datetime | None]]:
    """``{booklet: (vouchers redeemed, first live use)}`` counted from the vouchers and redemptions."""
    used = Voucher.select(Voucher.booklet, Count().as_alias("n")).where(
        Voucher.status == VoucherStatus.redeemed
    )
    first = Redemption.select(Redemption.voucher.booklet.as_alias("booklet"), Redemption.redeemed_at).where(
        Redemption.undone_at.is_null()
    )
    if booklet_ids is not None:
        used = used.where(Voucher.booklet.is_in(booklet_ids or [0]))
        first = first.where(Redemption.voucher.booklet.is_in(booklet_ids or [0]))
    counts = {r["booklet"]: r["n"] for r in await used.group_by(Voucher.booklet)}
    firsts: dict[int, datetime] = {}
    for row in await first:
        seen = firsts.get(row["booklet"])
        if seen is None or row["redeemed_at"] < seen:
            firsts[row["booklet"]] = row["redeemed_at"]
    return {b: (counts.get(b, 0), firsts.get(b)) for b in set(counts) | set(firsts)}
