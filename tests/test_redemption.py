"""Redemption rules, exactly-once under concurrency, idempotency, scan log and undo."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest
from piccolo.engine.postgres import PostgresEngine

from conftest import World, issue, run
from pass_numerique.db.transaction import engine
from pass_numerique.domain.clock import utcnow
from pass_numerique.domain.errors import DomainError
from pass_numerique.domain.issuance import beneficiaries, lifecycle, stock
from pass_numerique.domain.redemption import redemptions as redemption
from pass_numerique.domain.tables import Redemption, ScanAttempt, Voucher


def redeem(world: World, codes: list[str], request_id: str = "request-0001", agent=None, **kw):
    return run(
        redemption.redeem(
            agent or world.agent,
            redemption.RedeemRequest(codes=codes, theme="email", request_id=request_id, **kw),
        )
    )


def refusal(call) -> DomainError:
    with pytest.raises(DomainError) as caught:
        call()
    return caught.value


def test_redeem_by_qr_url_then_second_attempt_is_already_redeemed_with_site(world: World) -> None:
    booklet, codes = issue(world)
    result = redeem(world, [codes[0].url])
    assert [v.number for v in result.redeemed] == [1]
    assert result.remaining == booklet.voucher_count - 1
    assert result.total_cents == 1000
    error = refusal(lambda: redeem(world, [codes[0].short_code], "request-0002"))
    assert error.code == "already_redeemed"
    assert error.details["redeemed_site"] == "Médiathèque Nord"
    assert "Médiathèque Nord" in error.message


def test_short_code_is_accepted_in_any_case_without_dashes(world: World) -> None:
    _, codes = issue(world)
    typed = codes[2].short_code.replace("-", "").lower()
    assert redeem(world, [typed]).redeemed[0].number == 3


def test_several_vouchers_are_redeemed_atomically(world: World) -> None:
    _, codes = issue(world)
    redeem(world, [codes[1].url], "request-0001")
    # codes[0] is fine but codes[1] is used: nothing at all is redeemed.
    error = refusal(lambda: redeem(world, [codes[0].url, codes[1].url], "request-0002"))
    assert error.code == "already_redeemed"
    assert run(Voucher.count().where(Voucher.status == "redeemed")) == 1
    result = redeem(world, [codes[0].url, codes[2].url, codes[3].url], "request-0003")
    assert sorted(v.number for v in result.redeemed) == [1, 3, 4]
    assert result.remaining == 6


def test_duplicate_and_mixed_booklets_are_refused(world: World) -> None:
    _, codes = issue(world)
    _, other = issue(world)
    assert refusal(lambda: redeem(world, [codes[0].url, codes[0].short_code])).code == "duplicate_voucher"
    assert refusal(lambda: redeem(world, [codes[0].url, other[0].url], "request-0002")).code == (
        "different_booklets"
    )


def test_refusal_codes(world: World) -> None:
    booklet, codes = issue(world)
    assert refusal(lambda: redeem(world, ["not a code"], "r-unknown-1")).code == "invalid_code_format"
    wrong_check = codes[0].short_code[:-1] + ("0" if codes[0].short_code[-1] != "0" else "1")
    assert refusal(lambda: redeem(world, [wrong_check], "r-checksum")).code == "invalid_checksum"
    forged = codes[0].url[:-3] + ("AAA" if not codes[0].url.endswith("AAA") else "BBB")
    assert refusal(lambda: redeem(world, [forged], "r-forged-1")).code == "unknown_code"
    assert refusal(lambda: redeem(world, [codes[0].url], "r-pending", agent=world.agent_pending)).code == (
        "site_not_accredited"
    )
    later = utcnow() + timedelta(days=400)
    error = refusal(
        lambda: run(
            redemption.redeem(
                world.agent,
                redemption.RedeemRequest(codes=[codes[0].url], theme="email", request_id="r-expired"),
                now=later,
            )
        )
    )
    assert error.code == "expired"
    sante = redemption.RedeemRequest(codes=[codes[0].url], theme="sante", request_id="r-theme-1")
    assert refusal(lambda: run(redemption.redeem(world.agent, sante))).code == "invalid_theme"
    run(lifecycle.cancel_booklet(world.issuer, booklet.serial, lifecycle.CancelRequest(reason="perdu")))
    assert refusal(lambda: redeem(world, [codes[0].url], "r-cancelled")).code == "cancelled"


def test_printed_stock_cannot_be_redeemed(world: World) -> None:
    run_ = run(
        stock.create_print_run(
            world.coordinator,
            stock.PrintRunCreate(territory_id=world.north.id, programme_id=world.programme.id, quantity=2),
        )
    )
    codes = run(lifecycle.booklet_codes(world.coordinator, run_.first_serial))
    assert refusal(lambda: redeem(world, [codes[0].url])).code == "not_issued"


def test_not_yet_valid(world: World) -> None:
    printed = run(
        stock.create_print_run(
            world.coordinator,
            stock.PrintRunCreate(
                territory_id=world.north.id,
                programme_id=world.programme.id,
                quantity=1,
                valid_from=(utcnow() + timedelta(days=30)).date(),
            ),
        )
    )
    person = run(
        beneficiaries.create_beneficiary(
            world.issuer, beneficiaries.BeneficiaryCreate(territory_id=world.north.id)
        )
    )
    run(
        lifecycle.assign_booklet(
            world.issuer, printed.first_serial, lifecycle.AssignRequest(beneficiary_id=person.id)
        )
    )
    codes = run(lifecycle.booklet_codes(world.issuer, printed.first_serial))
    assert refusal(lambda: redeem(world, [codes[0].url])).code == "not_yet_valid"


def test_request_id_replays_first_answer_and_never_redeems_twice(world: World) -> None:
    _, codes = issue(world)
    first = redeem(world, [codes[0].url], "same-request-id")
    again = redeem(world, [codes[0].url], "same-request-id")
    assert again.replayed and not first.replayed
    assert again.redeemed == first.redeemed
    assert run(Redemption.count()) == 1
    # A refusal is replayed too.
    refused = refusal(lambda: redeem(world, [codes[0].url], "second-request"))
    assert refusal(lambda: redeem(world, [codes[1].url], "second-request")).code == refused.code


def test_every_attempt_is_logged_including_refusals(world: World) -> None:
    _, codes = issue(world)
    redeem(world, [codes[0].url], "request-0001")
    refusal(lambda: redeem(world, [codes[0].url], "request-0002"))
    refusal(lambda: redeem(world, ["ZZZZ-ZZZZ-ZZZZ"], "request-0003"))
    run(redemption.lookup(world.agent, codes[1].url))
    outcomes = [r["outcome"] for r in run(ScanAttempt.select(ScanAttempt.outcome).order_by(ScanAttempt.id))]
    assert outcomes == ["redeemed", "already_redeemed", "invalid_checksum", "ok"]


def test_lookup_reports_state_without_changing_it(world: World) -> None:
    _, codes = issue(world)
    redeem(world, [codes[0].url])
    used = run(redemption.lookup(world.agent_south, codes[0].short_code))
    assert not used.ok and used.code == "already_redeemed" and used.redeemed_site == "Médiathèque Nord"
    fresh = run(redemption.lookup(world.agent, codes[1].url))
    assert fresh.ok and fresh.remaining == 9 and "email" in fresh.themes
    assert run(Voucher.count().where(Voucher.status == "redeemed")) == 1


def test_cross_territory_redemption_is_allowed(world: World) -> None:
    _, codes = issue(world)
    assert redeem(world, [codes[0].url], agent=world.agent_south).site_id == world.site_south.id


def test_agent_undo_within_window_then_voucher_is_available_again(world: World) -> None:
    _, codes = issue(world)
    result = redeem(world, [codes[0].url])
    rid = result.redeemed[0].redemption_id
    too_late = utcnow() + timedelta(minutes=30)
    error = refusal(
        lambda: run(
            redemption.undo_redemption(
                world.agent, rid, redemption.UndoRequest(reason="erreur"), now=too_late
            )
        )
    )
    assert error.code == "undo_window_passed"
    assert (
        refusal(
            lambda: run(
                redemption.undo_redemption(world.agent_south, rid, redemption.UndoRequest(reason="x"))
            )
        ).code
        == "not_found"
    )
    undone = run(
        redemption.undo_redemption(world.agent, rid, redemption.UndoRequest(reason="mauvais carnet"))
    )
    assert undone.undone_at is not None
    assert redeem(world, [codes[0].url], "request-0002").redeemed[0].number == 1


def test_coordinator_undo_after_window(world: World) -> None:
    _, codes = issue(world)
    rid = redeem(world, [codes[0].url]).redeemed[0].redemption_id
    later = utcnow() + timedelta(days=2)
    undone = run(
        redemption.undo_redemption(world.coordinator, rid, redemption.UndoRequest(reason="litige"), now=later)
    )
    assert undone.undo_reason == "litige"


def test_late_offline_upload_is_flagged(world: World) -> None:
    _, codes = issue(world)
    # Uploaded tomorrow, three hours after the session: the session is never before the booklet's
    # first valid day, whatever the hour the test runs at.
    upload = utcnow() + timedelta(days=1)
    request = redemption.RedeemRequest(
        codes=[codes[0].url], theme="email", request_id="late-0001", occurred_at=upload - timedelta(hours=3)
    )
    result = run(redemption.redeem(world.agent, request, now=upload))
    assert result.late


def test_site_agent_lists_only_own_site(world: World) -> None:
    _, codes = issue(world)
    redeem(world, [codes[0].url])
    redeem(world, [codes[1].url], "request-0002", agent=world.agent_south)
    mine = run(redemption.list_redemptions(world.agent))
    assert [r.site_id for r in mine] == [world.site.id]


@pytest.mark.parametrize("same_request", [False, True], ids=["distinct-requests", "same-request-id"])
def test_one_hundred_concurrent_redeems_of_one_voucher_succeed_exactly_once(
    world: World, same_request: bool
) -> None:
    _, codes = issue(world)

    async def attempt(i: int) -> str:
        request_id = "concurrent-0000" if same_request else f"concurrent-{i:04d}"
        try:
            await redemption.redeem(
                world.agent,
                redemption.RedeemRequest(codes=[codes[0].url], theme="email", request_id=request_id),
            )
            return "ok"
        except DomainError as exc:
            return exc.code

    async def main() -> list[str]:
        db = engine()
        if isinstance(db, PostgresEngine):
            await db.start_connection_pool(max_size=20)
        try:
            return await asyncio.gather(*(attempt(i) for i in range(100)))
        finally:
            if isinstance(db, PostgresEngine):
                await db.close_connection_pool()

    outcomes = run(main())
    assert run(Redemption.count()) == 1
    if same_request:
        assert outcomes == ["ok"] * 100  # every repeat gets the first answer
    else:
        assert outcomes.count("ok") == 1
        assert outcomes.count("already_redeemed") == 99
