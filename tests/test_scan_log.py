"""Every code looked up or redeemed lands in the scan log, refused ones too."""

from __future__ import annotations

from conftest import World, issue, run
from pass_numerique.domain.redemption import lookup
from pass_numerique.domain.tables import ScanAttempt
from redemption_support import redeem_codes, refusal


def test_every_attempt_is_logged_including_refusals(world: World) -> None:
    _, codes = issue(world)
    redeem_codes(world, [codes[0].url], "request-0001")
    refusal(lambda: redeem_codes(world, [codes[0].url], "request-0002"))
    refusal(lambda: redeem_codes(world, ["ZZZZ-ZZZZ-ZZZZ"], "request-0003"))
    run(lookup.lookup(world.agent, codes[1].url))
    rows = run(
        ScanAttempt.select(
            ScanAttempt.outcome, ScanAttempt.action, ScanAttempt.request_id, ScanAttempt.site
        ).order_by(ScanAttempt.id)
    )
    assert [r["outcome"] for r in rows] == ["redeemed", "already_redeemed", "invalid_checksum", "ok"]
    assert [r["action"] for r in rows] == ["redeem", "redeem", "redeem", "lookup"]
    assert [r["request_id"] for r in rows] == ["request-0001", "request-0002", "request-0003", ""]
    assert {r["site"] for r in rows} == {world.site.id}


def test_the_scanned_text_is_kept_up_to_200_characters(world: World) -> None:
    junk = "x" * 300
    refusal(lambda: redeem_codes(world, [junk], "request-0001"))
    assert run(ScanAttempt.select(ScanAttempt.scanned).first())["scanned"] == junk[:200]
