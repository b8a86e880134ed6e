"""What anyone holding a voucher may read about it: the page its QR code opens for a beneficiary.

The URL printed in every voucher QR (``{PN_PUBLIC_URL}/v/{token}``) is opened by site agents'
scanners and by beneficiaries' own phones. Without a site agent's session the page says what the
voucher is worth, until when, whether it can still be used and where (the accredited sites of its
booklet's territory), and nothing else: no beneficiary, no booklet serial, no other voucher, not
when or where it was used. Only a signed token (the QR's payload) opens it: short codes are not
accepted, and a forged or unknown token is ``unknown_code``, like any scanner would answer.
"""

from __future__ import annotations

from datetime import date, datetime

import msgspec

from pass_numerique.domain.clock import local_date, utcnow
from pass_numerique.domain.errors import DomainError
from pass_numerique.domain.partners import sites
from pass_numerique.domain.redemption import voucher_state
from pass_numerique.domain.tables import Booklet
from pass_numerique.domain.vouchers import codes, voucher_tokens


class PublicVoucher(msgspec.Struct, kw_only=True):
    """The voucher as its holder sees it; ``state`` is ``usable`` or why it cannot be used today."""

    face_value_cents: int
    valid_from: date
    valid_until: date
    usable: bool
    state: str
    """``usable``, ``already_redeemed``, ``expired``, ``not_yet_valid`` or ``unusable``."""
    message: str
    territory_code: str
    territory_name: str
    sites: list[sites.PublicSite]


# A holder is told that a voucher is used, expired or not yet valid; cancelled booklets and stock
# never handed out are one neutral "not usable" (the page does not tell a finder which it is).
_STATES = {"already_redeemed", "expired", "not_yet_valid"}


def _message(state: str, valid_from: date, valid_until: date) -> str:
    if state == "usable":
        return f"Ce chèque est utilisable jusqu'au {valid_until:%d/%m/%Y} inclus."
    if state == "already_redeemed":
        return "Ce chèque a déjà été utilisé."
    if state == "expired":
        return f"Ce chèque a expiré le {valid_until:%d/%m/%Y}."
    if state == "not_yet_valid":
        return f"Ce chèque sera utilisable à partir du {valid_from:%d/%m/%Y}."
    return (
        "Ce chèque n'est pas utilisable. Renseignez-vous auprès de la structure "
        "qui vous a remis votre carnet."
    )


async def public_voucher(token: str, *, now: datetime | None = None) -> PublicVoucher:
    """The public facts of the voucher a QR token designates (public: no actor, no scope)."""
    if len(token) != voucher_tokens.TOKEN_LENGTH:
        raise DomainError("unknown_code")
    scanned = codes.ScannedToken(claims=voucher_tokens.verify(token))
    voucher = await voucher_state.resolve(scanned)
    refusal = await voucher_state.refusal(voucher, local_date(now or utcnow()))
    state = "usable" if refusal is None else refusal.code if refusal.code in _STATES else "unusable"
    territory = (
        await Booklet.select(Booklet.territory.code.as_alias("code"))
        .where(Booklet.id == voucher["booklet_id"])
        .first()
    )
    listing = await sites.public_sites(territory["code"])
    return PublicVoucher(
        face_value_cents=voucher["face_value_cents"],
        valid_from=voucher["valid_from"],
        valid_until=voucher["valid_until"],
        usable=state == "usable",
        state=state,
        message=_message(state, voucher["valid_from"], voucher["valid_until"]),
        territory_code=listing.territory_code,
        territory_name=listing.territory_name,
        sites=listing.sites,
    )
