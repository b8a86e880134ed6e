"""The scan log: every code a site agent or manager looks up or tries to redeem, refused ones too,
kept for support and fraud detection (never pruned)."""

from __future__ import annotations

from datetime import datetime

from pass_numerique.domain.actors import Actor
from pass_numerique.domain.clock import utcnow
from pass_numerique.domain.tables import ScanAttempt

_SCANNED_KEPT = 200  # characters of the text as scanned: a QR URL fits, pasted junk is cut


async def record(
    actor: Actor,
    scanned: list[str],
    *,
    action: str,
    outcome: str,
    request_id: str = "",
    voucher_ids: list[int] | None = None,
    at: datetime | None = None,
) -> None:
    """One line per code, in the caller's transaction.

    ``outcome`` is ``ok`` (a look-up), ``redeemed`` or the refusal's code.
    """
    at = at or utcnow()
    ids: list[int | None] = list(voucher_ids) if voucher_ids else [None] * len(scanned)
    await ScanAttempt.insert(
        *[
            ScanAttempt(
                at=at,
                scanned=text[:_SCANNED_KEPT],
                voucher=voucher_id,
                site=actor.site_id,
                agent=actor.user_id,
                action=action,
                outcome=outcome,
                request_id=request_id,
            )
            for text, voucher_id in zip(scanned, ids, strict=True)
        ]
    )
