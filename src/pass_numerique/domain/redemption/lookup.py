"""Look up a voucher before redeeming it: the scanner's confirmation screen.

The answer is the refusal a redemption would meet now (``voucher_state.refusal``, plus the
site's accreditation for a site agent), or ``ok``; nothing changes but the scan log.
"""

from __future__ import annotations

from datetime import date, datetime

import msgspec

from pass_numerique.db.transaction import write_transaction
from pass_numerique.domain.actors import Actor, Role
from pass_numerique.domain.clock import local_date, utcnow
from pass_numerique.domain.errors import DomainError
from pass_numerique.domain.partners.sites import agent_site, is_accredited_on
from pass_numerique.domain.redemption import scan_log, voucher_state
from pass_numerique.domain.states import VoucherStatus
from pass_numerique.domain.vouchers import codes

LOOKUP_ROLES = (Role.site_agent, Role.issuer, Role.coordinator, Role.admin)


class LookupResult(msgspec.Struct, kw_only=True):
    """A voucher's state; ``code`` is ``ok`` or the refusal a redemption would meet."""

    ok: bool
    code: str
    message: str
    booklet_serial: str
    number: int
    voucher_count: int
    remaining: int
    face_value_cents: int
    valid_from: date
    valid_until: date
    themes: list[str]
    redeemed_at: datetime | None = None
    redeemed_site: str | None = None


async def lookup(actor: Actor, scanned_text: str, *, now: datetime | None = None) -> LookupResult:
    """A voucher's state and its booklet's remaining vouchers; changes nothing but the scan log."""
    actor.require_role(*LOOKUP_ROLES)
    now = now or utcnow()
    await scan_log.check_attempt_limits(actor, now)
    try:
        voucher = await voucher_state.resolve(codes.parse_scanned(scanned_text))
    except DomainError as refusal:
        async with write_transaction():
            await scan_log.record(actor, [scanned_text], action="lookup", outcome=refusal.code, at=now)
        raise
    day = local_date(now)
    refusal = await voucher_state.refusal(voucher, day)
    if (
        refusal is None
        and actor.role == Role.site_agent
        and not is_accredited_on(await agent_site(actor), day)
    ):
        refusal = DomainError("site_not_accredited")
    live = (
        await voucher_state.live_redemption(voucher["id"])
        if voucher["status"] == VoucherStatus.redeemed
        else None
    )
    async with write_transaction():
        await scan_log.record(
            actor,
            [scanned_text],
            action="lookup",
            outcome=refusal.code if refusal else "ok",
            voucher_ids=[voucher["id"]],
            at=now,
        )
    return LookupResult(
        ok=refusal is None,
        code=refusal.code if refusal else "ok",
        message=refusal.message if refusal else "Chèque valable.",
        booklet_serial=voucher["serial"],
        number=voucher["number"],
        voucher_count=voucher["voucher_count"],
        remaining=await voucher_state.remaining(voucher["booklet_id"]),
        face_value_cents=voucher["face_value_cents"],
        valid_from=voucher["valid_from"],
        valid_until=voucher["valid_until"],
        themes=voucher_state.themes(voucher),
        redeemed_at=live["redeemed_at"] if live else None,
        redeemed_site=live["site_name"] if live else None,
    )
