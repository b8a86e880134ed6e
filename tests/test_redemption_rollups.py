"""The monthly rollups plus the rows not folded yet equal a recount from the redemptions, always.

Built on the hand-counted data set of test_reports.py (undo, late upload in a closed month,
replacement, cross-territory use), then moved on: folds, an undo after a fold, new redemptions
after a fold; every time, every grouping under every filter and window is compared with the
recount, and the whole report with the report read before any fold.
"""

from __future__ import annotations

import asyncio
import itertools
from datetime import date, timedelta

import msgspec
import pytest

from conftest import World, load_migration, run
from pass_numerique.cli import main
from pass_numerique.domain.issuance import lifecycle
from pass_numerique.domain.redemption import offline_sync, redeem, undo
from pass_numerique.domain.reports import public_statistics, redemption_rollups
from pass_numerique.domain.reports.figures import ReportFilter
from pass_numerique.domain.tables import (
    Booklet,
    PartnerSite,
    Redemption,
    RedemptionBySite,
    RedemptionBySiteMonth,
    RedemptionBySiteProgramme,
    RedemptionByTerritory,
    RedemptionByTerritoryPair,
)
from test_reports import NOW, RANGE, Data, at, build, issue_at, redeem_at, report

TODAY = NOW.date()
WINDOWS = [
    (RANGE.start, RANGE.end),  # whole months, ends today
    (date(2026, 1, 1), date(2026, 1, 31)),  # one whole month in the past
    (date(2026, 1, 20), date(2026, 2, 19)),  # both edges inside a month
    (date(2026, 2, 1), date(2026, 2, 1)),  # one day
    (date(2025, 12, 1), date(2026, 2, 28)),  # whole months, the last one ends before today
    (date(2026, 1, 19), date(2026, 3, 10)),  # an edge, then whole months up to today
    (date(2025, 2, 15), date(2026, 2, 10)),  # edge, whole months, edge
]
GROUPINGS: list[list[redemption_rollups.Key]] = [
    [],
    ["booklet_territory", "site_territory"],
    ["site", "theme"],
    ["site"],
    ["period"],
    ["theme"],
    ["age_band"],
    ["month"],
]


def selections(world: World) -> list[redemption_rollups.Selection]:
    filters = [
        {},
        {"territories": [world.north.id]},
        {"territories": [world.south.id], "territory_of": "site"},
        {"territories": [world.north.id], "programme_id": world.programme.id, "theme": "email"},
        {"theme": "securite_numerique"},
        {"programme_id": world.programme.id},
        {"site_id": world.site.id},
        {"site_ids": [world.site_south.id], "territories": [world.south.id], "territory_of": "site"},
    ]
    return [
        redemption_rollups.Selection(start=start, end=end, today=TODAY, **extra)
        for (start, end), extra in itertools.product(WINDOWS, filters)
    ]


def key_of(row: dict) -> tuple:
    return tuple(sorted((k, v) for k, v in row.items()))


def assert_equal_to_recount(world: World) -> int:
    """Every grouping of every selection, rollups + tail against the recount; returns the groups compared."""
    compared = 0
    for sel in selections(world):
        for group_by in GROUPINGS:
            fast = run(redemption_rollups.redemption_counts(group_by, sel))
            slow = run(redemption_rollups.redemption_counts(group_by, sel, use_rollups=False))
            assert sorted(map(key_of, fast)) == sorted(map(key_of, slow)), (group_by, sel)
            compared += len(slow)
    return compared


def assert_ranked_sites_equal_recount(sel: redemption_rollups.Selection, *, pages: bool) -> None:
    """The per-site ranking, cut in the database, against the recount ranked here (and page by page)."""
    names = {
        s["id"]: s for s in run(PartnerSite.select(PartnerSite.id, PartnerSite.name, PartnerSite.territory))
    }
    recount = run(redemption_rollups.redemption_counts(["site"], sel, use_rollups=False))
    expected = [
        {
            "site": r["site"],
            "name": names[r["site"]]["name"],
            "territory": names[r["site"]]["territory"],
            "count": r["count"],
            "amount": r["amount"],
        }
        for r in sorted(recount, key=lambda r: (-r["count"], names[r["site"]]["name"], r["site"]))
    ]
    assert run(redemption_rollups.ranked_sites(sel, None, 0)) == (expected, len(expected)), sel
    if pages:
        cut = [run(redemption_rollups.ranked_sites(sel, 1, offset)) for offset in range(len(expected) + 2)]
        assert [row for rows, _ in cut for row in rows] == expected, sel
        assert {total for _, total in cut} == {len(expected)}, sel  # past the end too


def assert_statement_totals_equal_recount(world: World) -> None:
    """The statements' per-site totals of each period, rollup + tail against the redemptions."""
    scopes = [(None, None), ([world.south.id], None), (None, world.site.id)]
    territory_of = site_territories()
    for period, (territories, site_id) in itertools.product(
        ["2025-03", "2026-01", "2026-02", "2026-03"], scopes
    ):
        fast = run(redemption_rollups.site_totals_of_period(period, territories=territories, site_id=site_id))
        query = Redemption.select(Redemption.site, Redemption.voucher.face_value_cents).where(
            Redemption.undone_at.is_null() & (Redemption.period == period)
        )
        slow: dict[int, list[int]] = {}
        for row in run(query):
            if site_id is not None and row["site"] != site_id:
                continue
            if territories is not None and territory_of[row["site"]] not in territories:
                continue
            into = slow.setdefault(row["site"], [0, 0])
            into[0] += 1
            into[1] += row["voucher.face_value_cents"]
        assert {r["site"]: [r["count"], r["amount"]] for r in fast} == slow, (period, territories, site_id)


def assert_beneficiaries_equal_recount(world: World) -> None:
    """Distinct beneficiaries per site (the copy on the redemption) against the booklets' own."""
    rows = run(
        Redemption.select(
            Redemption.site,
            Redemption.day,
            Redemption.theme,
            Redemption.beneficiary,
            Redemption.voucher.booklet.beneficiary.as_alias("booklet_beneficiary"),
            Redemption.voucher.booklet.programme.as_alias("programme"),
            Redemption.voucher.booklet.territory.as_alias("booklet_territory"),
        ).where(Redemption.undone_at.is_null())
    )
    assert rows and all(r["beneficiary"] == r["booklet_beneficiary"] for r in rows)
    all_sites = [world.site.id, world.site_south.id]
    territory_of = site_territories()
    for sel in selections(world):
        expected: dict[int, set[int]] = {}
        for r in rows:
            kept = (
                sel.start <= r["day"] <= sel.end
                and (sel.site_id is None or r["site"] == sel.site_id)
                and (sel.site_ids is None or r["site"] in sel.site_ids)
                and (sel.programme_id is None or r["programme"] == sel.programme_id)
                and (not sel.theme or r["theme"] == sel.theme)
                and (
                    sel.territories is None
                    or (
                        territory_of[r["site"]] in sel.territories
                        if sel.territory_of == "site"
                        else r["booklet_territory"] in sel.territories
                    )
                )
            )
            if kept:
                expected.setdefault(r["site"], set()).add(r["booklet_beneficiary"])
        counted = run(redemption_rollups.beneficiaries_by_site(sel, all_sites))
        assert counted == {site: len(people) for site, people in expected.items()}, sel


def site_territories() -> dict[int, int]:
    """Each partner site's territory, read once per comparison."""
    return {s["id"]: s["territory"] for s in run(PartnerSite.select(PartnerSite.id, PartnerSite.territory))}


@pytest.fixture
def data(world: World) -> Data:
    return build(world)


def test_rollups_equal_a_recount_through_folds_and_undos(world: World, data: Data) -> None:
    before = report(world.admin)
    assert run(RedemptionBySite.count()) == 0  # nothing folded yet: everything is read as the tail
    assert assert_equal_to_recount(world) > 0

    folded = run(redemption_rollups.fold())
    # Every redemption was pending; the one undone before any fold adds nothing.
    assert folded.redemptions == run(Redemption.count())
    live = run(Redemption.count().where(Redemption.undone_at.is_null()))
    assert run(redemption_rollups.fold()).redemptions == 0  # nothing left to fold
    assert sum(r["redeemed"] for r in run(RedemptionByTerritory.select())) == live
    assert sum(r["redeemed"] for r in run(RedemptionBySiteMonth.select())) == live
    assert sum(r["redeemed"] for r in run(RedemptionByTerritoryPair.select())) == live
    assert sum(r["redeemed"] for r in run(RedemptionBySiteProgramme.select())) == live
    assert report(world.admin) == before
    assert_equal_to_recount(world)
    assert_statement_totals_equal_recount(world)

    # An undo after the fold: the row is counted but no longer live, so the tail takes it back.
    b2 = next(r for r in run(undo.list_redemptions(world.admin, limit=500)) if r.number == 10)
    run(
        undo.undo_redemption(world.coordinator, b2.id, undo.UndoRequest(reason="erreur"), now=at(2026, 3, 10))
    )
    after_undo = report(world.admin)
    assert after_undo.totals.vouchers_redeemed == before.totals.vouchers_redeemed - 1
    assert after_undo.totals.booklets_fully_used == before.totals.booklets_fully_used - 1
    assert_equal_to_recount(world)
    assert_statement_totals_equal_recount(world)
    assert run(redemption_rollups.fold()).redemptions == 1
    assert report(world.admin) == after_undo
    assert_equal_to_recount(world)
    assert_statement_totals_equal_recount(world)

    # New redemptions after the fold, in the current month, are read from the tail until the next fold.
    codes = run(lifecycle.booklet_codes(world.issuer, data.serials["X"]))
    redeem_at(world, codes[:2], at(2026, 3, 10), theme="securite_numerique")
    fresh = report(world.admin)
    assert fresh.totals.vouchers_redeemed == after_undo.totals.vouchers_redeemed + 2
    assert_equal_to_recount(world)
    assert_statement_totals_equal_recount(world)
    assert run(redemption_rollups.fold()).redemptions == 2
    assert report(world.admin) == fresh
    assert_equal_to_recount(world)
    assert_beneficiaries_equal_recount(world)
    assert_statement_totals_equal_recount(world)


def test_the_site_ranking_pages_in_the_database(world: World, data: Data) -> None:
    for sel in selections(world):  # nothing folded: every row is read from the redemptions
        assert_ranked_sites_equal_recount(sel, pages=False)
    run(redemption_rollups.fold())
    redeem_at(world, run(lifecycle.booklet_codes(world.issuer, data.serials["X"]))[:1], at(2026, 3, 10))
    for index, sel in enumerate(selections(world)):  # the rollups, and one row not folded
        # Page by page for every filter over whole months up to today.
        assert_ranked_sites_equal_recount(sel, pages=index < 8)


def test_undone_rows_leave_no_empty_rollup_rows(world: World, data: Data) -> None:
    run(redemption_rollups.fold())
    for row in run(undo.list_redemptions(world.admin, limit=500)):
        if row.undone_at is None and row.redeemed_at >= at(2026, 2, 20):
            run(
                undo.undo_redemption(
                    world.coordinator, row.id, undo.UndoRequest(reason="test"), now=at(2026, 3, 10)
                )
            )
    run(redemption_rollups.fold())
    assert run(RedemptionBySite.count().where(RedemptionBySite.redeemed == 0)) == 0
    assert run(RedemptionByTerritory.count().where(RedemptionByTerritory.redeemed == 0)) == 0
    assert run(RedemptionBySiteMonth.count().where(RedemptionBySiteMonth.redeemed == 0)) == 0
    assert run(RedemptionByTerritoryPair.count().where(RedemptionByTerritoryPair.redeemed == 0)) == 0
    assert run(RedemptionBySiteProgramme.count().where(RedemptionBySiteProgramme.redeemed == 0)) == 0
    assert_equal_to_recount(world)
    assert_statement_totals_equal_recount(world)


def test_folds_running_beside_redemptions_and_undos_stay_exact(world: World, data: Data) -> None:
    run(redemption_rollups.fold())
    codes = run(lifecycle.booklet_codes(world.issuer, data.serials["Y"]))  # ten unused vouchers, valid

    async def redeem_then_undo(index: int) -> None:
        result = await redeem.redeem(
            world.agent,
            redeem.RedeemRequest(
                codes=[codes[index].short_code], theme="email", request_id=f"beside-{index:04d}"
            ),
            now=at(2026, 3, 10),
        )
        if index % 2 == 0:
            await undo.undo_redemption(
                world.coordinator,
                result.redeemed[0].redemption_id,
                undo.UndoRequest(reason="erreur"),
                now=at(2026, 3, 10),
            )

    async def folds() -> None:
        for _ in range(4):
            await redemption_rollups.fold()

    async def scenario() -> None:
        await asyncio.gather(*(redeem_then_undo(i) for i in range(10)), folds(), folds())

    run(scenario())
    assert_equal_to_recount(world)
    assert_statement_totals_equal_recount(world)
    run(redemption_rollups.fold())
    assert run(Redemption.count().where(Redemption.report_pending == True)) == 0  # noqa: E712
    assert_equal_to_recount(world)
    assert_statement_totals_equal_recount(world)
    assert report(world.admin).totals.vouchers_redeemed == 24  # 19 + 5 kept of the 10 new


@pytest.mark.parametrize(
    ("migration", "rollup"),
    [
        ("m0019_site_month_rollup_data.py", RedemptionBySiteMonth),
        ("m0025_territory_pair_rollup_data.py", RedemptionByTerritoryPair),
        ("m0028_site_programme_rollup_data.py", RedemptionBySiteProgramme),
    ],
)
def test_a_rollup_backfilled_from_the_site_rollup_equals_the_fold(
    world: World, data: Data, migration: str, rollup: type
) -> None:
    """m0019, m0025 and m0028 fill a new rollup of an existing database from the finer one: the same rows."""
    backfill = next(s for s in load_migration(migration).STATEMENTS if s.startswith("INSERT"))

    run(redemption_rollups.fold())
    columns = [c for c in rollup._meta.columns if c._meta.name != "id"]
    folded = sorted(map(key_of, run(rollup.select(*columns))))
    assert folded
    run(rollup.delete(force=True))
    run(rollup.raw(backfill))
    assert sorted(map(key_of, run(rollup.select(*columns)))) == folded


def test_refresh_reports_command_folds_and_vacuums_on_request(world: World, data: Data, capsys) -> None:
    main(["refresh-reports", "--vacuum"])
    assert f"{run(Redemption.count())} encaissements" in capsys.readouterr().out
    assert run(Redemption.count().where(Redemption.report_pending == True)) == 0  # noqa: E712
    assert run(RedemptionBySiteMonth.count()) > 0
    assert_equal_to_recount(world)


def test_every_report_section_is_the_same_before_and_after_the_fold(world: World, data: Data) -> None:
    """The hand-counted data set plus a phone clock running slow, a session dated before the booklet
    was issued, and a booklet used before its recorded issuance (as the rules let in before issue 17):
    every section of every report reads the same before ``refresh-reports`` and after it."""
    skewed, skewed_codes = issue_at(world, at(2026, 2, 25))
    moved = run(
        offline_sync.upload(
            world.agent,
            redeem.RedeemRequest(
                codes=[skewed_codes[0].short_code],
                theme="email",
                request_id="skewed-000001",
                occurred_at=at(2026, 2, 25) - timedelta(minutes=4),
            ),
            now=at(2026, 2, 25) + timedelta(hours=2),
        )
    )
    assert moved.status == "redeemed" and moved.result.redeemed_at == skewed.issued_at
    _back, back_codes = issue_at(world, at(2026, 2, 26))
    refused = run(
        offline_sync.upload(
            world.agent,
            redeem.RedeemRequest(
                codes=[back_codes[0].short_code],
                theme="email",
                request_id="backdated-0001",
                occurred_at=at(2026, 2, 26) - timedelta(hours=1),
            ),
            now=at(2026, 2, 27),
        )
    )
    assert (refused.status, refused.code) == ("conflict", "redeemed_before_issue")
    legacy, legacy_codes = issue_at(world, at(2026, 2, 27))
    redeem_at(world, legacy_codes[:2], at(2026, 2, 28))
    # Data written before the rule: the booklet's first use a day and two hours before its issuance.
    run(
        Booklet.update({Booklet.issued_at: at(2026, 3, 1) + timedelta(hours=2)}).where(
            Booklet.serial == legacy.serial
        )
    )

    filters = [
        RANGE,
        ReportFilter(start=date(2026, 2, 1), end=date(2026, 2, 28)),
        ReportFilter(start=date(2026, 2, 20), end=date(2026, 3, 10), territory_id=world.north.id),
        ReportFilter(start=date(2026, 1, 1), end=date(2026, 3, 10), programme_id=world.programme.id),
        ReportFilter(start=date(2026, 2, 1), end=date(2026, 3, 10), site_id=world.site.id, theme="email"),
    ]
    readers = [world.admin, world.coordinator, world.agent]

    def read_all() -> tuple[dict, object]:
        reports = {
            (actor.user_id, index): report(actor, flt)
            for actor in readers
            for index, flt in enumerate(filters)
        }
        return reports, run(public_statistics.public_statistics(RANGE.start, RANGE.end, now=NOW))

    before, public_before = read_all()
    for read in before.values():
        if read.first_use is not None:  # the histogram's total is its buckets' sum: no negative day
            assert read.first_use.booklets == sum(bucket.count for bucket in read.first_use.buckets)
    assert before[(world.admin.user_id, 0)].first_use.booklets == 6  # E, B1, S1, B2, skewed, legacy
    main(["refresh-reports"])
    assert run(Booklet.count().where(Booklet.report_pending == True)) == 0  # noqa: E712
    after, public_after = read_all()
    for key, read in before.items():
        for field in msgspec.structs.fields(read):
            assert getattr(after[key], field.name) == getattr(read, field.name), (key, field.name)
    assert public_after == public_before
