"""A voucher as redemption sees it: which one a scanned code designates, and why it cannot be
redeemed on a given day.

Both the look-up (``lookup``) and the redemption (``redeem``) read a voucher through here, so
the confirmation screen and the redemption refuse for the same reasons in the same order. The
phone scanner mirrors the offline part of ``refusal`` (cancelled, not yet valid, expired) in
static/scan/offline-rules.js; tests/test_offline_rules.py holds both to the same answers.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Any

from pass_numerique.db.json_columns import json_value
from pass_numerique.domain.clock import local_zone
from pass_numerique.domain.errors import DomainError
from pass_numerique.domain.states import BookletStatus, VoucherStatus
from pass_numerique.domain.tables import Redemption, Voucher
from pass_numerique.domain.vouchers import codes, short_codes

_COLUMNS = (
    Voucher.id,
    Voucher.number,
    Voucher.status,
    Voucher.face_value_cents,
    Voucher.booklet.id.as_alias("booklet_id"),
    Voucher.booklet.serial.as_alias("serial"),
    Voucher.booklet.beneficiary.as_alias("beneficiary_id"),
    Voucher.booklet.status.as_alias("booklet_status"),
    Voucher.booklet.valid_from.as_alias("valid_from"),
    Voucher.booklet.valid_until.as_alias("valid_until"),
    Voucher.booklet.issued_at.as_alias("issued_at"),
    Voucher.booklet.voucher_count.as_alias("voucher_count"),
    Voucher.booklet.programme.as_alias("programme"),
    Voucher.booklet.programme.themes.as_alias("programme_themes"),
)


async def resolve(scanned: codes.ScannedCode) -> dict[str, Any]:
    """The voucher a validated code designates, with its booklet's state (``unknown_code`` if none)."""
    query = Voucher.select(*_COLUMNS)
    if isinstance(scanned, codes.ScannedToken):
        claims = scanned.claims
        query = query.where(
            (Voucher.booklet == claims.booklet_id)
            & (Voucher.number == claims.number)
            & (Voucher.key_id == claims.kid)
        )
    else:
        query = query.where(Voucher.short_code_hash == short_codes.lookup_hash(scanned.code))
    row = await query.first()
    if row is None:
        raise DomainError("unknown_code")
    return row


def themes(voucher: dict[str, Any]) -> list[str]:
    """The atelier themes the voucher's programme allows."""
    return json_value(voucher["programme_themes"])


def identity(voucher: dict[str, Any]) -> dict[str, Any]:
    """What every refusal about a voucher names: its booklet and its number."""
    return {"booklet_serial": voucher["serial"], "number": voucher["number"]}


async def refusal(voucher: dict[str, Any], day: date) -> DomainError | None:
    """Why this voucher cannot be redeemed on ``day``, or None."""
    details = identity(voucher)
    if voucher["status"] == VoucherStatus.cancelled or voucher["booklet_status"] == BookletStatus.cancelled:
        return DomainError("cancelled", **details)
    if voucher["booklet_status"] != BookletStatus.issued:
        return DomainError("not_issued", **details)
    if voucher["status"] == VoucherStatus.redeemed:
        return await already_redeemed(voucher)
    if day < voucher["valid_from"]:
        return DomainError(
            "not_yet_valid",
            f"Ce chèque n'est valable qu'à partir du {voucher['valid_from']:%d/%m/%Y}.",
            **details,
        )
    if day > voucher["valid_until"]:
        return DomainError("expired", f"Ce chèque a expiré le {voucher['valid_until']:%d/%m/%Y}.", **details)
    return None


ISSUE_CLOCK_TOLERANCE = timedelta(minutes=10)
"""How far before its booklet's issuance a redemption may be dated and still be accepted (moved to
the issuance): a phone's clock running a little slow. Further back, it is refused."""


def moment_after_issue(voucher: dict[str, Any], moment: datetime) -> datetime:
    """When the redemption counts as made: never before the booklet was handed out.

    A voucher cannot be used before its booklet reaches the beneficiary, so a redemption dated
    earlier is a slow clock (within ``ISSUE_CLOCK_TOLERANCE``: it is moved to the issuance) or a
    mistake (refused with ``redeemed_before_issue``). Every path goes through ``redeem``, so the
    time to first use of the reports is never negative.
    """
    issued_at = voucher["issued_at"]
    if issued_at is None or moment >= issued_at:
        return moment
    if issued_at - moment > ISSUE_CLOCK_TOLERANCE:
        raise DomainError(
            "redeemed_before_issue",
            "Cette utilisation est datée du "
            f"{_moment_text(moment).removeprefix('le ')}, avant la remise du carnet "
            f"({_moment_text(issued_at)}) : vérifiez la date et l'heure du téléphone.",
            **identity(voucher),
        )
    return issued_at


async def live_redemption(voucher_id: int) -> dict[str, Any] | None:
    """When and where the voucher was redeemed, if it is (an undone redemption does not count)."""
    return (
        await Redemption.select(Redemption.redeemed_at, Redemption.site.name.as_alias("site_name"))
        .where((Redemption.voucher == voucher_id) & Redemption.undone_at.is_null())
        .first()
    )


async def already_redeemed(voucher: dict[str, Any]) -> DomainError:
    """The refusal of a used voucher, saying when and where it was used."""
    details = identity(voucher)
    live = await live_redemption(voucher["id"])
    if live is None:
        return DomainError("already_redeemed", **details)
    return DomainError(
        "already_redeemed",
        f"Ce chèque a déjà été utilisé {_moment_text(live['redeemed_at'])} ({live['site_name']}).",
        redeemed_at=live["redeemed_at"].isoformat(),
        redeemed_site=live["site_name"],
        **details,
    )


def _moment_text(moment: datetime) -> str:
    return moment.astimezone(local_zone()).strftime("le %d/%m/%Y à %Hh%M")


async def remaining(booklet_id: int) -> int:
    """The booklet's vouchers still available."""
    return await Voucher.count().where(
        (Voucher.booklet == booklet_id) & (Voucher.status == VoucherStatus.available)
    )
