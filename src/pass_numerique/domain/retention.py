"""Retention of technical records that only matter for a while.

Idempotency records answer repeated requests: a phone's offline queue may replay a
request up to ``redeem.OLDEST_OFFLINE_UPLOAD`` later, so they are kept longer
than that. Failed sign-ins matter for the throttling window only. Redemptions,
scan attempts and audit events are never pruned here.
"""

from __future__ import annotations

from datetime import datetime, timedelta

import msgspec

from pass_numerique.db.transaction import write_transaction
from pass_numerique.domain import audit
from pass_numerique.domain.accounts.authentication import LOGIN_FAILURE_WINDOW
from pass_numerique.domain.clock import utcnow
from pass_numerique.domain.errors import DomainError
from pass_numerique.domain.redemption.redeem import OLDEST_OFFLINE_UPLOAD
from pass_numerique.domain.tables import IdempotencyRecord, LoginFailure

MIN_IDEMPOTENCY_DAYS = OLDEST_OFFLINE_UPLOAD.days + 15


class PruneResult(msgspec.Struct, kw_only=True):
    idempotency_records: int
    login_failures: int


async def prune(*, keep_days: int = 90, now: datetime | None = None) -> PruneResult:
    """Delete idempotency records older than ``keep_days`` and expired sign-in failures."""
    if keep_days < MIN_IDEMPOTENCY_DAYS:
        raise DomainError(
            "invalid_input",
            f"Gardez au moins {MIN_IDEMPOTENCY_DAYS} jours : une file hors ligne peut rejouer ses envois.",
            field="keep_days",
        )
    now = now or utcnow()
    async with write_transaction():
        records = (
            await IdempotencyRecord.delete()
            .where(IdempotencyRecord.created_at < now - timedelta(days=keep_days))
            .returning(IdempotencyRecord.id)
        )
        failures = (
            await LoginFailure.delete()
            .where(LoginFailure.at < now - LOGIN_FAILURE_WINDOW)
            .returning(LoginFailure.id)
        )
        result = PruneResult(idempotency_records=len(records), login_failures=len(failures))
        await audit.record(None, "retention.prune", "retention", now.date(), at=now, after=result)
    return result
