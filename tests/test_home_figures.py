"""The home page's figures (domain/reports/home_figures.py): each role's tasks and key figures."""

from __future__ import annotations

from datetime import datetime, time, timedelta

from conftest import World, run
from pass_numerique.domain.actors import Actor
from pass_numerique.domain.clock import local_zone, utcnow
from pass_numerique.domain.issuance import beneficiaries, lifecycle, stock
from pass_numerique.domain.redemption import redeem
from pass_numerique.domain.reports.home_figures import SLEEPING_DAYS, home_figures


def _issue(world: World, now: datetime) -> tuple[lifecycle.BookletOut, list[lifecycle.VoucherCode]]:
    booklet = run(
        lifecycle.issue_booklet(
            world.issuer,
            lifecycle.IssueRequest(
                programme_id=world.programme.id,
                beneficiary=beneficiaries.BeneficiaryCreate(territory_id=world.north.id),
            ),
            now=now,
        )
    )
    return booklet, run(lifecycle.booklet_codes(world.issuer, booklet.serial))


def _allocate(
    world: World, actor: Actor, territory_id: int, structure_id: int, count: int, now: datetime
) -> None:
    printed = run(
        stock.create_print_run(
            actor,
            stock.PrintRunCreate(territory_id=territory_id, programme_id=world.programme.id, quantity=count),
            now=now,
        )
    )
    run(
        stock.allocate(
            actor,
            stock.AllocateRequest(structure_id=structure_id, print_run_id=printed.id, count=count),
            now=now,
        )
    )


def test_stock_allocated_long_ago_and_not_issued_is_a_coordinators_task(world: World) -> None:
    now = utcnow()
    _allocate(
        world,
        world.coordinator,
        world.north.id,
        world.structure.id,
        2,
        now - timedelta(days=SLEEPING_DAYS + 15),
    )
    _allocate(world, world.admin, world.south.id, world.structure_south.id, 3, now - timedelta(days=2))

    mine = run(home_figures(world.coordinator, now=now))
    assert [(s.structure_name, s.sleeping) for s in mine.sleeping_structures] == [("MDS Nord", 2)]
    assert mine.sleeping_structures[0].oldest_sleeping_days == SLEEPING_DAYS + 15
    assert mine.totals.booklets_sleeping == 2  # the coordinator's territory only
    everything = run(home_figures(world.admin, now=now))
    assert [s.structure_name for s in everything.sleeping_structures] == ["MDS Nord"]  # Sud's is recent
    assert everything.totals.booklets_sleeping == 5
    assert run(home_figures(world.issuer, now=now)).sleeping_structures == []  # not an issuer's task


def test_booklets_expiring_soon_are_listed_by_serial_except_for_the_observatory(world: World) -> None:
    booklet, _ = _issue(world, utcnow())
    soon = datetime.combine(booklet.valid_until - timedelta(days=10), time(10), tzinfo=local_zone())

    issuer = run(home_figures(world.issuer, now=soon))
    assert [b.serial for b in issuer.expiring_booklets] == [booklet.serial]
    assert (issuer.expiring_booklets_30_days, issuer.expiring_vouchers_30_days) == (1, booklet.voucher_count)
    viewer = run(home_figures(world.viewer, now=soon))
    assert viewer.expiring_booklets == [] and viewer.expiring_booklets_30_days == 1
    south = run(home_figures(world.issuer_south, now=soon))
    assert south.expiring_booklets == [] and south.expiring_booklets_30_days == 0


def test_a_site_agent_sees_todays_redemptions_at_its_site(world: World) -> None:
    now = utcnow()
    _, codes = _issue(world, now - timedelta(days=3))
    for number, moment in enumerate((now - timedelta(days=1), now, now)):
        request = redeem.RedeemRequest(
            codes=[codes[number].url], theme="email", request_id=f"home-{number:04d}"
        )
        run(redeem.redeem(world.agent, request, now=moment))

    today = run(home_figures(world.agent, now=now))
    assert today.start == today.today
    assert today.totals.vouchers_redeemed == 2 and today.totals.amount_redeemed_cents > 0
    assert today.totals.booklets_issued is None  # not a site agent's data
    assert run(home_figures(world.agent_south, now=now)).totals.vouchers_redeemed == 0
