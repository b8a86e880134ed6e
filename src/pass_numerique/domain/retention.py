"""Retention of technical records that only matter for a while.

Idempotency records answer repeated requests: a phone's offline queue may replay a
request up to ``redeem.OLDEST_OFFLINE_UPLOAD`` later, so they are kept longer
than that. Failed sign-ins matter for the throttling window only. The scan log (every
look-up and redemption attempt, for support and fraud detection) is kept
``PN_SCAN_LOG_KEEP_DAYS``. Redemptions and audit events are never pruned here.
"""

from __future__ import annotations

from datetime import datetime, timedelta

import msgspec

from pass_numerique.db.transaction import write_transaction
from pass_numerique.domain import audit
from pass_numerique.domain.clock import utcnow
from pass_numerique.domain.errors import DomainError
from pass_numerique.domain.redemption.redeem import OLDEST_OFFLINE_UPLOAD
from pass_numerique.domain.tables import IdempotencyRecord, LoginFailure, ScanAttempt
from pass_numerique.settings import get_settings

MIN_IDEMPOTENCY_DAYS = OLDEST_OFFLINE_UPLOAD.days + 15


class PruneResult(msgspec.Struct, kw_only=True):
    idempotency_records: int
    login_failures: int
    scan_attempts: int


async def prune(*, keep_days: int = 90, now: datetime | None = None) -> PruneResult:
    """Delete idempotency records older than ``keep_days``, expired sign-in failures and the scan
    log older than ``PN_SCAN_LOG_KEEP_DAYS``."""
    if keep_days < MIN_IDEMPOTENCY_DAYS:
        raise DomainError(
            "invalid_input",
            f"Gardez au moins {MIN_IDEMPOTENCY_DAYS} jours : une file hors ligne peut rejouer ses envois.",
            field="keep_days",
        )
    now = now or utcnow()
    settings = get_settings()
    async with write_transaction():
        records = (
            await IdempotencyRecord.delete()
            .where(IdempotencyRecord.created_at < now - timedelta(days=keep_days))
            .returning(IdempotencyRecord.id)
        )
        failures = (
            await LoginFailure.delete()
            .where(LoginFailure.at < now - timedelta(seconds=settings.login_window_seconds))
            .returning(LoginFailure.id)
        )
        attempts = (
            await ScanAttempt.delete()
            .where(ScanAttempt.at < now - timedelta(days=settings.scan_log_keep_days))
            .returning(ScanAttempt.id)
        )
        result = PruneResult(
            idempotency_records=len(records), login_failures=len(failures), scan_attempts=len(attempts)
        )
        await audit.record(None, "retention.prune", "retention", now.date(), at=now, after=result)
    return result
