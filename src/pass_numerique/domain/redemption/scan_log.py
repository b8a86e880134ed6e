"""The scan log: every code a site agent or manager looks up or tries to redeem, refused ones too,
kept for support and fraud detection (``retention.prune`` deletes it after PN_SCAN_LOG_KEEP_DAYS).

It also limits guessing: before each look-up or redemption, the failed attempts of the account and
of its site within the last ``PN_ATTEMPT_WINDOW_SECONDS`` are counted (a sliding window over these
rows); past ``PN_MAX_FAILED_ATTEMPTS_PER_AGENT`` or ``…_PER_SITE`` the attempt is refused with
``too_many_attempts`` and how many seconds to wait. Successes never count, so a busy site is
never slowed; a code guesser is, whatever the codes it tries.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from pass_numerique.domain import attempt_limits
from pass_numerique.domain.actors import Actor
from pass_numerique.domain.clock import utcnow
from pass_numerique.domain.tables import ScanAttempt
from pass_numerique.settings import get_settings

_SCANNED_KEPT = 200  # characters of the text as scanned: a QR URL fits, pasted junk is cut
# The outcomes that are not failures: a look-up that found a valid voucher, a redemption.
SUCCESSES = ("ok", "redeemed")


async def check_attempt_limits(actor: Actor, now: datetime) -> None:
    """Refuse with ``too_many_attempts`` (``retry_after`` in seconds) while the actor's account or
    site has made too many failed attempts within the window."""
    settings = get_settings()
    window = timedelta(seconds=settings.attempt_window_seconds)
    failed = ScanAttempt.outcome.not_in(list(SUCCESSES))
    limits = [
        (ScanAttempt.agent, actor.user_id, settings.max_failed_attempts_per_agent),
        (ScanAttempt.site, actor.site_id, settings.max_failed_attempts_per_site),
    ]
    for column, owner, limit in limits:
        if owner is None:
            continue
        wait = await attempt_limits.seconds_to_wait(
            ScanAttempt.at, failed & (column == owner), limit=limit, window=window, now=now
        )
        if wait is not None:
            raise attempt_limits.too_many_attempts(wait)


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
