"""Look-up before redemption: the refusal a redemption would meet, nothing changed but the scan log."""

from __future__ import annotations

from datetime import timedelta

from conftest import World, issue, run
from pass_numerique.domain.clock import utcnow
from pass_numerique.domain.redemption import lookup
from pass_numerique.domain.tables import ScanAttempt, Voucher
from redemption_support import redeem_codes, refusal


def test_lookup_reports_state_without_changing_it(world: World) -> None:
    _, codes = issue(world)
    redeem_codes(world, [codes[0].url])
    used = run(lookup.lookup(world.agent_south, codes[0].short_code))
    assert not used.ok and used.code == "already_redeemed" and used.redeemed_site == "Médiathèque Nord"
    assert used.redeemed_at is not None and "Médiathèque Nord" in used.message
    fresh = run(lookup.lookup(world.agent, codes[1].url))
    assert fresh.ok and fresh.code == "ok" and fresh.remaining == 9 and "email" in fresh.themes
    assert run(Voucher.count().where(Voucher.status == "redeemed")) == 1


def test_lookup_answers_what_a_redemption_would_meet(world: World) -> None:
    _, codes = issue(world)
    assert run(lookup.lookup(world.agent_pending, codes[0].url)).code == "site_not_accredited"
    # Managers are not tied to a site: only the voucher's state counts.
    assert run(lookup.lookup(world.coordinator, codes[0].url)).ok
    later = utcnow() + timedelta(days=3 * 366)
    expired = run(lookup.lookup(world.agent, codes[0].url, now=later))
    assert expired.code == "expired" and f"{expired.valid_until:%d/%m/%Y}" in expired.message
    # A code that designates no voucher is a refusal, logged like the others.
    assert refusal(lambda: run(lookup.lookup(world.agent, "ZZZZ-ZZZZ-ZZZZ"))).code == "invalid_checksum"
    outcomes = [r["outcome"] for r in run(ScanAttempt.select(ScanAttempt.outcome).order_by(ScanAttempt.id))]
    assert outcomes == ["site_not_accredited", "ok", "expired", "invalid_checksum"]
    assert run(Voucher.count().where(Voucher.status != "available")) == 0
