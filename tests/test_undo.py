"""Undo within the rules, and the listing that offers it."""

from __future__ import annotations

from datetime import timedelta

from conftest import World, issue, run
from pass_numerique.domain.clock import utcnow
from pass_numerique.domain.issuance import beneficiaries, lifecycle
from pass_numerique.domain.redemption import undo
from pass_numerique.domain.tables import Redemption
from pass_numerique.settings import get_settings
from redemption_support import redeem_codes, refusal


def test_agent_undo_within_window_then_voucher_is_available_again(world: World) -> None:
    _, codes = issue(world)
    result = redeem_codes(world, [codes[0].url])
    rid = result.redeemed[0].redemption_id
    too_late = utcnow() + timedelta(minutes=30)
    error = refusal(
        lambda: run(undo.undo_redemption(world.agent, rid, undo.UndoRequest(reason="erreur"), now=too_late))
    )
    assert error.code == "undo_window_passed"
    assert (
        refusal(lambda: run(undo.undo_redemption(world.agent_south, rid, undo.UndoRequest(reason="x")))).code
        == "not_found"
    )
    undone = run(undo.undo_redemption(world.agent, rid, undo.UndoRequest(reason="mauvais carnet")))
    assert undone.undone_at is not None
    assert redeem_codes(world, [codes[0].url], "request-0002").redeemed[0].number == 1


def test_coordinator_undo_after_window(world: World) -> None:
    _, codes = issue(world)
    rid = redeem_codes(world, [codes[0].url]).redeemed[0].redemption_id
    later = utcnow() + timedelta(days=2)
    undone = run(undo.undo_redemption(world.coordinator, rid, undo.UndoRequest(reason="litige"), now=later))
    assert undone.undo_reason == "litige"


def test_the_listing_says_until_when_an_agent_may_undo(world: World) -> None:
    """The scanner offers undo until ``agent_undo_until``: the very moment the domain stops allowing it."""
    # An offline session uploaded an hour late: the window runs from its recording, not the session.
    # The booklet was handed out before the session (a redemption never predates its issuance).
    uploaded = utcnow()
    booklet = run(
        lifecycle.issue_booklet(
            world.issuer,
            lifecycle.IssueRequest(
                programme_id=world.programme.id,
                beneficiary=beneficiaries.BeneficiaryCreate(territory_id=world.north.id),
            ),
            now=uploaded - timedelta(hours=2),
        )
    )
    codes = run(lifecycle.booklet_codes(world.issuer, booklet.serial))
    late = redeem_codes(world, [codes[0].url], "late-000001", occurred_at=uploaded - timedelta(hours=1))
    listed = run(undo.list_redemptions(world.agent))
    recorded_at = run(Redemption.select(Redemption.recorded_at).first())["recorded_at"]
    deadline = recorded_at + timedelta(minutes=get_settings().agent_undo_minutes)
    assert [(r.id, r.agent_undo_until) for r in listed] == [(late.redeemed[0].redemption_id, deadline)]
    rid = listed[0].id
    error = refusal(
        lambda: run(
            undo.undo_redemption(
                world.agent, rid, undo.UndoRequest(reason="x"), now=deadline + timedelta(seconds=1)
            )
        )
    )
    assert error.code == "undo_window_passed"
    assert run(undo.undo_redemption(world.agent, rid, undo.UndoRequest(reason="x"), now=deadline)).undone_at


def test_site_agent_lists_only_own_site(world: World) -> None:
    _, codes = issue(world)
    redeem_codes(world, [codes[0].url])
    redeem_codes(world, [codes[1].url], "request-0002", agent=world.agent_south)
    mine = run(undo.list_redemptions(world.agent))
    assert [r.site_id for r in mine] == [world.site.id]
    assert len(run(undo.list_redemptions(world.admin))) == 2
