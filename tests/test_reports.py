"""Report figures against hand-computed expectations on a small fixed data set.

The data set (``build``) is made through the domain API with explicit ``now=``
moments, always at 10:00 Paris time so day differences are whole days:

north (issuer's structure "MDS Nord"):
  print run of 4 (2026-01-05), 3 allocated to MDS Nord (2026-01-10), the first
  assigned to a beneficiary (A1, 2026-02-01) and redeemed once then undone;
  E  issued 2025-02-01 (valid until 2026-02-01), 1 used 2025-03-01, 9 expired unused;
  X  issued 2025-04-01 and Y issued 2025-05-01: unused, expiring in 22 and 52 days;
  B1 issued 2026-01-15 (25-39 years): 2 used 2026-01-20, 1 used 2026-02-05, 1 late upload
     (occurred 2026-01-30, uploaded 2026-02-04 after January was closed: period 2026-02);
  B2 issued 2026-01-20 (60-69 years): all 10 used 2026-02-20;
  B3 issued 2026-02-10, lost 2026-02-15 and replaced by R (10 vouchers), R used once 2026-02-16;
  L  issued 2026-02-12, lost 2026-02-13 without replacement.
south: S1 issued 2026-01-15, 2 used at the north site 2026-02-01, 1 at the south site 2026-02-02.
The report is read on 2026-03-10 at 10:00 for 2025-01-01 … 2026-03-10.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from zoneinfo import ZoneInfo

import pytest

from conftest import World, run
from pass_numerique.domain.errors import DomainError
from pass_numerique.domain.issuance import beneficiaries, lifecycle, stock
from pass_numerique.domain.redemption import redeem, undo
from pass_numerique.domain.reimbursement import statements
from pass_numerique.domain.reports import dashboard, public_statistics
from pass_numerique.domain.reports.figures import Report, ReportFilter, median

PARIS = ZoneInfo("Europe/Paris")
NOW = datetime(2026, 3, 10, 10, 0, tzinfo=PARIS)
RANGE = ReportFilter(start=date(2025, 1, 1), end=date(2026, 3, 10))


def at(year: int, month: int, day: int) -> datetime:
    return datetime(year, month, day, 10, 0, tzinfo=PARIS)


@dataclass
class Data:
    serials: dict[str, str]


_counter = iter(range(1, 10_000))


def issue_at(world: World, moment: datetime, *, issuer=None, age_band: str = "non_communique"):
    issuer = issuer or world.issuer
    booklet = run(
        lifecycle.issue_booklet(
            issuer,
            lifecycle.IssueRequest(
                programme_id=world.programme.id,
                beneficiary=beneficiaries.BeneficiaryCreate(
                    territory_id=next(iter(issuer.territory_ids)), age_band=age_band
                ),
            ),
            now=moment,
        )
    )
    return booklet, run(lifecycle.booklet_codes(issuer, booklet.serial))


def redeem_at(world: World, codes, moment: datetime, *, agent=None, theme="email", occurred_at=None):
    return run(
        redeem.redeem(
            agent or world.agent,
            redeem.RedeemRequest(
                codes=[c.short_code for c in codes],
                theme=theme,
                request_id=f"request-{next(_counter):06d}",
                occurred_at=occurred_at,
            ),
            now=moment,
        )
    )


def build(world: World) -> Data:
    serials: dict[str, str] = {}
    printed = run(
        stock.create_print_run(
            world.coordinator,
            stock.PrintRunCreate(territory_id=world.north.id, programme_id=world.programme.id, quantity=4),
            now=at(2026, 1, 5),
        )
    )
    run(
        stock.allocate(
            world.coordinator,
            stock.AllocateRequest(structure_id=world.structure.id, count=3),
            now=at(2026, 1, 10),
        )
    )
    e, e_codes = issue_at(world, at(2025, 2, 1))
    redeem_at(world, e_codes[:1], at(2025, 3, 1))
    x, _ = issue_at(world, at(2025, 4, 1))
    y, _ = issue_at(world, at(2025, 5, 1))
    b1, b1_codes = issue_at(world, at(2026, 1, 15), age_band="vingt_cinq_trente_neuf")
    s1, s1_codes = issue_at(world, at(2026, 1, 15), issuer=world.issuer_south)
    b2, b2_codes = issue_at(world, at(2026, 1, 20), age_band="soixante_soixante_neuf")
    first_two = redeem_at(world, b1_codes[:2], at(2026, 1, 20))
    person = run(
        beneficiaries.create_beneficiary(
            world.issuer, beneficiaries.BeneficiaryCreate(territory_id=world.north.id)
        )
    )
    run(
        lifecycle.assign_booklet(
            world.issuer,
            printed.first_serial,
            lifecycle.AssignRequest(beneficiary_id=person.id),
            now=at(2026, 2, 1),
        )
    )
    redeem_at(world, s1_codes[:2], at(2026, 2, 1), theme="securite_numerique")
    redeem_at(world, s1_codes[2:3], at(2026, 2, 2), agent=world.agent_south)
    a1_codes = run(lifecycle.booklet_codes(world.issuer, printed.first_serial))
    a1 = redeem_at(world, a1_codes[:1], at(2026, 2, 3))
    run(
        undo.undo_redemption(
            world.coordinator,
            a1.redeemed[0].redemption_id,
            undo.UndoRequest(reason="erreur"),
            now=at(2026, 2, 3),
        )
    )
    run(statements.close_period(world.admin, "2026-01", now=at(2026, 2, 3)))
    late = redeem_at(world, b1_codes[3:4], at(2026, 2, 4), occurred_at=at(2026, 1, 30))
    assert late.period == "2026-02" and late.late
    with pytest.raises(DomainError) as closed:
        run(
            undo.undo_redemption(
                world.coordinator,
                first_two.redeemed[0].redemption_id,
                undo.UndoRequest(reason="trop tard"),
                now=at(2026, 2, 4),
            )
        )
    assert closed.value.code == "period_closed"
    redeem_at(world, b1_codes[2:3], at(2026, 2, 5))
    b3, _ = issue_at(world, at(2026, 2, 10))
    lost, _ = issue_at(world, at(2026, 2, 12))
    run(
        lifecycle.cancel_booklet(
            world.issuer, lost.serial, lifecycle.CancelRequest(reason="perdu"), now=at(2026, 2, 13)
        )
    )
    replaced = run(
        lifecycle.cancel_booklet(
            world.issuer, b3.serial, lifecycle.CancelRequest(reason="volé", replace=True), now=at(2026, 2, 15)
        )
    )
    assert replaced.replacement is not None
    r_codes = run(lifecycle.booklet_codes(world.issuer, replaced.replacement.serial))
    redeem_at(world, r_codes[:1], at(2026, 2, 16))
    redeem_at(world, b2_codes, at(2026, 2, 20))
    for name, booklet in (("E", e), ("X", x), ("Y", y), ("B1", b1), ("B2", b2), ("S1", s1), ("B3", b3)):
        serials[name] = booklet.serial
    serials["R"] = replaced.replacement.serial
    serials["A1"] = printed.first_serial
    return Data(serials=serials)


@pytest.fixture
def data(world: World) -> Data:
    return build(world)


def report(actor, flt: ReportFilter = RANGE) -> Report:
    return run(dashboard.report(actor, flt, now=NOW))


def test_admin_figures_match_the_hand_count(world: World, data: Data) -> None:
    r = report(world.admin)
    t = r.totals
    assert (t.booklets_printed, t.booklets_allocated, t.booklets_issued) == (12, 3, 9)
    assert (t.booklets_started, t.booklets_fully_used, t.booklets_sleeping) == (4, 1, 2)
    assert t.vouchers_issued == 90
    assert t.vouchers_redeemed == 19 and t.amount_redeemed_cents == 19_000
    assert (t.vouchers_cancelled, t.vouchers_replaced, t.vouchers_expired_unused) == (10, 10, 9)
    assert t.usage_rate == round(19 / 90, 4) and t.activation_rate == round(4 / 9, 4)

    north, south = r.territories
    assert (north.territory_id, north.printed, north.issued, north.started, north.vouchers_redeemed) == (
        world.north.id,
        11,
        8,
        3,
        16,
    )
    assert (south.printed, south.issued, south.started, south.vouchers_issued, south.vouchers_redeemed) == (
        1,
        1,
        1,
        10,
        3,
    )

    mds = next(s for s in r.structures if s.structure_id == world.structure.id)
    assert (mds.allocated, mds.issued, mds.started, mds.fully_used, mds.sleeping) == (3, 8, 3, 1, 2)
    assert (mds.oldest_sleeping_days, mds.median_sleeping_days) == (59, 59)

    sites = {s.site_id: s for s in r.sites}
    assert (sites[world.site.id].vouchers_redeemed, sites[world.site.id].beneficiaries) == (18, 5)
    assert sites[world.site.id].amount_cents == 18_000
    assert sites[world.site.id].themes == {"email": 16, "securite_numerique": 2}
    assert (sites[world.site_south.id].vouchers_redeemed, sites[world.site_south.id].beneficiaries) == (1, 1)
    assert r.sites_total == 2 and [s.site_id for s in r.sites] == [world.site.id, world.site_south.id]

    assert r.first_use is not None
    assert (r.first_use.booklets, r.first_use.median_days) == (4, 22.5)  # 5, 17, 28, 31 days
    assert [b.count for b in r.first_use.buckets] == [1, 2, 1, 0, 0]

    assert [(m.key, m.count) for m in r.by_month] == [("2025-03", 1), ("2026-01", 2), ("2026-02", 16)]
    assert [(m.key, m.count) for m in r.by_theme] == [("email", 17), ("securite_numerique", 2)]
    assert {m.key: m.count for m in r.by_age_band} == {
        "soixante_soixante_neuf": 10,
        "non_communique": 5,
        "vingt_cinq_trente_neuf": 4,
    }
    assert [
        (c.booklet_territory_id, c.site_territory_id, c.vouchers_redeemed) for c in r.cross_territory
    ] == [(world.south.id, world.north.id, 2)]
    (expiring,) = r.expiring
    assert (expiring.booklets_30_days, expiring.booklets_60_days) == (1, 2)
    assert (expiring.vouchers_30_days, expiring.vouchers_60_days) == (10, 20)
    assert [(b.serial, b.unused) for b in r.expiring_booklets] == [
        (data.serials["X"], 10),
        (data.serials["Y"], 10),
    ]


def test_period_and_filters(world: World, data: Data) -> None:
    january = report(world.admin, ReportFilter(start=date(2026, 1, 1), end=date(2026, 1, 31)))
    t = january.totals
    assert (t.booklets_printed, t.booklets_allocated, t.booklets_issued, t.vouchers_issued) == (7, 3, 3, 30)
    # Three redemptions took place in January; the late one is paid in February (January was closed).
    assert t.vouchers_redeemed == 3
    assert [(m.key, m.count) for m in january.by_month] == [("2026-01", 2), ("2026-02", 1)]
    themed = report(world.admin, ReportFilter(start=RANGE.start, end=RANGE.end, theme="securite_numerique"))
    assert themed.totals.vouchers_redeemed == 2 and [s.site_id for s in themed.sites] == [world.site.id]
    south_site = report(
        world.admin, ReportFilter(start=RANGE.start, end=RANGE.end, site_id=world.site_south.id)
    )
    assert south_site.totals.vouchers_redeemed == 1
    other_programme = report(
        world.admin,
        ReportFilter(start=RANGE.start, end=RANGE.end, programme_id=world.programme.id + 1),
    )
    assert other_programme.totals.booklets_issued == 0 and other_programme.totals.vouchers_redeemed == 0


def test_scoping(world: World, data: Data) -> None:
    coordinator = report(world.coordinator)  # north only
    assert [f.territory_id for f in coordinator.territories] == [world.north.id]
    assert coordinator.totals.booklets_issued == 8 and coordinator.totals.vouchers_redeemed == 16
    assert [s.site_id for s in coordinator.sites] == [world.site.id]
    assert all(s.territory_id == world.north.id for s in coordinator.structures)
    with pytest.raises(DomainError) as refused:
        report(world.coordinator, ReportFilter(territory_id=world.south.id))
    assert refused.value.code == "not_found"

    agent_south = report(world.agent_south)
    assert agent_south.scope == "site"
    assert agent_south.totals.booklets_issued is None and agent_south.territories == []
    assert agent_south.totals.vouchers_redeemed == 1
    assert [s.site_id for s in agent_south.sites] == [world.site_south.id]
    assert agent_south.expiring_booklets == [] and agent_south.first_use is None
    with pytest.raises(DomainError):
        report(world.agent_south, ReportFilter(site_id=world.site.id))
    agent_north = report(world.agent)
    assert agent_north.totals.vouchers_redeemed == 18
    assert [s.site_id for s in agent_north.sites] == [world.site.id]

    viewer = report(world.viewer)
    assert viewer.totals.booklets_issued == 9 and viewer.expiring_booklets == []
    assert viewer.expiring[0].booklets_60_days == 2
    issuer_south = report(world.issuer_south)
    assert [f.territory_id for f in issuer_south.territories] == [world.south.id]


def test_public_statistics_suppress_small_counts(world: World, data: Data) -> None:
    stats = run(public_statistics.public_statistics(RANGE.start, RANGE.end, now=NOW))
    north, south = sorted(stats.territories, key=lambda t: t.territory_id)
    assert (north.booklets_issued, north.vouchers_issued, north.vouchers_redeemed) == (8, 80, 16)
    assert north.booklets_started is None  # 3 < 5
    assert north.activation_rate is None and north.usage_rate == 0.2
    assert (south.booklets_issued, south.booklets_started, south.vouchers_redeemed) == (None, None, None)
    # 10 vouchers would give the hidden single booklet away: hidden with it.
    assert south.vouchers_issued is None and south.usage_rate is None
    assert (
        public_statistics.suppress(0) == 0
        and public_statistics.suppress(4) is None
        and public_statistics.suppress(5) == 5
    )


def test_the_structure_table_pages_most_sleeping_stock_first(world: World, data: Data) -> None:
    # Three booklets sleep at the southern CCAS (allocated 2026-03-01 and 03-05), two at the MDS Nord.
    run(
        stock.create_print_run(
            world.admin,
            stock.PrintRunCreate(territory_id=world.south.id, programme_id=world.programme.id, quantity=3),
            now=at(2026, 2, 25),
        )
    )
    for count, day in ((1, 1), (2, 5)):
        run(
            stock.allocate(
                world.admin,
                stock.AllocateRequest(structure_id=world.structure_south.id, count=count),
                now=at(2026, 3, day),
            )
        )
    whole = report(world.admin)
    assert [s.structure_id for s in whole.structures] == [world.structure_south.id, world.structure.id]
    assert whole.structures_total == 2
    ccas = whole.structures[0]
    assert (ccas.sleeping, ccas.oldest_sleeping_days, ccas.median_sleeping_days) == (3, 9, 5)
    pages = [
        run(dashboard.report(world.admin, RANGE, now=NOW, structure_limit=1, structure_offset=offset))
        for offset in (0, 1, 2)
    ]
    # Each page reads its own structures' ages: the same figures as the whole table's.
    assert [p.structures for p in pages] == [whole.structures[:1], whole.structures[1:], []]
    assert all(p.structures_total == 2 and p.totals == whole.totals for p in pages)
    for bad in ({"structure_limit": 0}, {"structure_offset": -1}):
        with pytest.raises(DomainError) as refused:
            run(dashboard.report(world.admin, RANGE, now=NOW, **bad))
        assert (refused.value.code, refused.value.details) == ("invalid_input", {"field": "structure_limit"})


def test_median_of_histogram() -> None:
    assert median({}) is None
    assert median({3: 1}) == 3
    assert median({1: 1, 10: 1}) == 5.5
    assert median({1: 2, 10: 1}) == 1


def test_the_site_table_pages(world: World, data: Data) -> None:
    whole = report(world.admin)
    pages = [
        run(dashboard.report(world.admin, RANGE, now=NOW, site_limit=1, site_offset=offset))
        for offset in (0, 1, 2)
    ]
    assert [len(p.sites) for p in pages] == [1, 1, 0]
    assert all(p.sites_total == 2 for p in pages)
    assert pages[0].sites + pages[1].sites == whole.sites  # same figures, distinct beneficiaries included
    assert pages[0].totals == whole.totals
    for bad in ({"site_limit": 0}, {"site_offset": -1}):
        with pytest.raises(DomainError) as refused:
            run(dashboard.report(world.admin, RANGE, now=NOW, **bad))
        assert refused.value.code == "invalid_input"


def test_the_funnel_is_a_cohort_and_the_site_table_reconciles_on_generated_data(world: World) -> None:
    """Booklets printed, allocated, issued on demand or from stock, used, cancelled and replaced on
    random days: every step of the cohort counts part of the step before, for any period, and the
    per-site total reconciles with the headline for a coordinator of one territory."""
    import contextlib
    import random

    from pass_numerique.domain.tables import Booklet

    rng = random.Random(17)
    pairs = [
        (world.issuer, world.agent),
        (world.issuer_south, world.agent_south),
        (world.issuer, world.agent_south),  # northern booklets used in the south
        (world.issuer_south, world.agent),  # southern booklets used in the north
    ]
    for _ in range(36):
        moment = at(2025, rng.randint(1, 11), rng.randint(1, 28))
        choice = rng.random()
        in_stock = run(Booklet.select(Booklet.serial).where(Booklet.status.is_in(["printed", "allocated"])))
        if choice < 0.15:
            run(
                stock.create_print_run(
                    world.admin,
                    stock.PrintRunCreate(
                        territory_id=world.north.id, programme_id=world.programme.id, quantity=3
                    ),
                    now=moment,
                )
            )
        elif choice < 0.25 and in_stock:
            with contextlib.suppress(DomainError):  # nothing left in the printed stock
                run(
                    stock.allocate(
                        world.admin,
                        stock.AllocateRequest(structure_id=world.structure.id, count=1),
                        now=moment,
                    )
                )
        elif choice < 0.35 and in_stock:
            person = run(
                beneficiaries.create_beneficiary(
                    world.issuer, beneficiaries.BeneficiaryCreate(territory_id=world.north.id)
                )
            )
            serial = rng.choice(in_stock)["serial"]
            booklet = run(
                lifecycle.assign_booklet(
                    world.issuer, serial, lifecycle.AssignRequest(beneficiary_id=person.id), now=moment
                )
            )
            codes = run(lifecycle.booklet_codes(world.issuer, booklet.serial))
            redeem_at(world, codes[: rng.randint(0, len(codes))] or codes[:1], at(2025, 12, 1))
        else:
            issuer, agent = rng.choice(pairs)
            booklet, codes = issue_at(world, moment, issuer=issuer)
            used = rng.choice([0, 1, 3, len(codes)])
            if used:
                redeem_at(world, codes[:used], at(2025, 12, 1), agent=agent)
            if rng.random() < 0.2 and used < len(codes):
                run(
                    lifecycle.cancel_booklet(
                        issuer,
                        booklet.serial,
                        lifecycle.CancelRequest(reason="perdu", replace=True),
                        now=at(2025, 12, 2),
                    )
                )

    now = at(2026, 1, 2)
    year = (date(2025, 1, 1), date(2025, 12, 31))
    periods = [year, (date(2025, 1, 1), date(2025, 3, 31)), (date(2025, 4, 15), date(2025, 9, 14))]
    for start, end in periods:
        for actor in (world.admin, world.coordinator):
            report = run(dashboard.report(actor, ReportFilter(start=start, end=end), now=now))
            c = report.cohort
            assert c is not None
            steps = [c.printed, c.left_stock, c.issued, c.started, c.fully_used]
            assert steps == sorted(steps, reverse=True), (start, end, steps)
            # The per-site total reconciles with the headline through cross-territory use.
            st = report.site_totals
            assert st.vouchers_redeemed == sum(s.vouchers_redeemed for s in report.sites)
            assert st.amount_cents == sum(s.amount_cents for s in report.sites)
            assert st.vouchers_redeemed == (
                report.totals.vouchers_redeemed - st.used_elsewhere + st.from_elsewhere
            )
            if actor is world.admin:
                assert st.used_elsewhere == st.from_elsewhere == 0
    # The whole year's cohort is every booklet created in it, replacements excluded.
    replacements = Booklet.select(Booklet.replaced_by).where(Booklet.replaced_by.is_not_null())
    created = run(Booklet.count().where(Booklet.id.not_in(replacements)))
    whole = run(dashboard.report(world.admin, ReportFilter(start=year[0], end=year[1]), now=now))
    assert whole.cohort is not None and whole.cohort.printed == created > 10
    assert 0 < whole.cohort.fully_used < whole.cohort.started < whole.cohort.issued
    north = run(dashboard.report(world.coordinator, ReportFilter(start=year[0], end=year[1]), now=now))
    assert north.site_totals.from_elsewhere > 0 and north.site_totals.used_elsewhere > 0
