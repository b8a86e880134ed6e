"""Minting booklets: serials reserved in order, vouchers with their signed codes and unique short codes.

Shared by print runs (stock) and by issuance at the desk; always inside the caller's transaction.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date, datetime

from pass_numerique.domain.clock import local_date
from pass_numerique.domain.scheme.programmes import ProgrammeOut
from pass_numerique.domain.states import BookletStatus, VoucherStatus
from pass_numerique.domain.tables import (
    Booklet,
    SerialCounter,
    Voucher,
)
from pass_numerique.domain.vouchers import short_codes, voucher_tokens
from pass_numerique.security.signing_keys import keyring
from pass_numerique.settings import get_settings

_BOOKLET_CHUNK = 500


_VOUCHER_CHUNK = 1000


async def _reserve_serials(count: int, year: int) -> list[str]:
    """``count`` consecutive serials ``DD-YYYY-NNNNNN``, reserved atomically."""
    prefix = f"{get_settings().departement_code}-{year}"
    await SerialCounter.insert(SerialCounter(prefix=prefix, last_value=0)).on_conflict(action="DO NOTHING")
    rows = (
        await SerialCounter.update({SerialCounter.last_value: SerialCounter.last_value + count})
        .where(SerialCounter.prefix == prefix)
        .returning(SerialCounter.last_value)
    )
    last = rows[0]["last_value"]
    return [f"{prefix}-{n:06d}" for n in range(last - count + 1, last + 1)]


async def _insert_vouchers(booklets: Iterable[tuple[int, int]], face_value: int) -> None:
    """Insert vouchers for ``(booklet_id, count)`` pairs, their short codes derived from the key."""
    kid = keyring().current_kid
    pending: list[dict] = []
    for booklet_id, count in booklets:
        for number in range(1, count + 1):
            code = voucher_tokens.short_code(kid, booklet_id, number)
            pending.append(
                {"booklet": booklet_id, "number": number, "nonce": 0, "hash": short_codes.lookup_hash(code)}
            )
    for start in range(0, len(pending), _VOUCHER_CHUNK):
        chunk = pending[start : start + _VOUCHER_CHUNK]
        await _avoid_short_code_collisions(kid, chunk)
        await Voucher.insert(
            *[
                Voucher(
                    booklet=v["booklet"],
                    number=v["number"],
                    face_value_cents=face_value,
                    status=VoucherStatus.available,
                    key_id=kid,
                    code_nonce=v["nonce"],
                    short_code_hash=v["hash"],
                )
                for v in chunk
            ]
        )


async def _avoid_short_code_collisions(kid: int, chunk: list[dict]) -> None:
    # 55 random bits make a collision rare but not impossible at national scale:
    # re-derive with the next nonce rather than fail a print run.
    while True:
        hashes = [v["hash"] for v in chunk]
        taken = {
            r["short_code_hash"]
            for r in await Voucher.select(Voucher.short_code_hash).where(
                Voucher.short_code_hash.is_in(hashes)
            )
        }
        seen: set[str] = set()
        collided = False
        for v in chunk:
            if v["hash"] in taken or v["hash"] in seen:
                v["nonce"] += 1
                code = voucher_tokens.short_code(kid, v["booklet"], v["number"], v["nonce"])
                v["hash"] = short_codes.lookup_hash(code)
                collided = True
            seen.add(v["hash"])
        if not collided:
            return


async def create_booklets(
    programme: ProgrammeOut,
    territory_id: int,
    count: int,
    *,
    status: BookletStatus,
    valid_from: date,
    valid_until: date,
    now: datetime,
    vouchers: int | None = None,
    **extra: object,
) -> list[dict]:
    """Insert ``count`` booklets with their vouchers; returns ``{id, serial}`` rows in serial order."""
    per_booklet = vouchers or programme.vouchers_per_booklet
    serials = await _reserve_serials(count, local_date(now).year)
    created: list[dict] = []
    for start in range(0, count, _BOOKLET_CHUNK):
        rows = [
            Booklet(
                serial=serial,
                programme=programme.id,
                territory=territory_id,
                status=status,
                voucher_count=per_booklet,
                valid_from=valid_from,
                valid_until=valid_until,
                codes_valid_until=valid_until,
                created_at=now,
                **extra,
            )
            for serial in serials[start : start + _BOOKLET_CHUNK]
        ]
        created += await Booklet.insert(*rows).returning(Booklet.id, Booklet.serial)
    created.sort(key=lambda r: r["serial"])
    await _insert_vouchers(((b["id"], per_booklet) for b in created), programme.face_value_cents)
    return created
