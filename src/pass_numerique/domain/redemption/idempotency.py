"""The first answer to a client's request id, stored and given again when the request comes back.

A phone retries a redemption after a network cut, or uploads its offline queue twice: the same
request id must get the same answer, success or refusal, and never redeem twice. The answer is
stored under ``(agent, request id)`` in ``idempotency_record`` (pruned after 90 days, see
``retention``); its unique key is what makes two twin requests settle on one answer.

The answer is stored with a fingerprint of the request it answers (``fingerprint``): the same
request id sent with another body (another voucher, another theme) is refused with
``request_id_reused`` instead of replaying an answer that belongs to another request.
"""

from __future__ import annotations

import hashlib
from datetime import datetime
from typing import Any, TypeVar

import msgspec

from pass_numerique.domain.errors import DomainError
from pass_numerique.domain.tables import IdempotencyRecord

Answer = TypeVar("Answer", bound=msgspec.Struct)

# What ``idempotency_record.status_code`` holds: 200 for a success, 0 for a refusal, whose code
# is in the stored answer and whose HTTP status the one map gives again at replay (http/errors.py).
# Rows written before the domain lost its HTTP statuses hold the status then answered (not 200).
_SUCCESS = 200
_REFUSED = 0


class _StoredRefusal(msgspec.Struct):
    code: str
    message: str
    details: dict


def fingerprint(operation: str, **fields: Any) -> str:
    """A hash of the request's canonical fields: what must be the same for a replay.

    Only what decides the answer belongs in ``fields`` (for a redemption: the site, the codes and
    the theme), not what a retry may legitimately change, such as when an offline queue says it
    happened: a redemption sent online, cut off and queued again keeps its request id.
    """
    canonical = msgspec.json.encode({"operation": operation, **fields}, order="sorted")
    return hashlib.sha256(canonical).hexdigest()


async def stored_answer(key: str, answer_type: type[Answer], request_fingerprint: str) -> Answer | None:
    """The first answer given under ``key``, None if there is none; a stored refusal is raised again,
    and ``request_id_reused`` if it answered another request."""
    row = (
        await IdempotencyRecord.select(
            IdempotencyRecord.status_code, IdempotencyRecord.response, IdempotencyRecord.fingerprint
        )
        .where(IdempotencyRecord.key == key)
        .first()
    )
    if row is None:
        return None
    # Rows stored before m0031 have no fingerprint: they replay as they always did.
    if row["fingerprint"] and row["fingerprint"] != request_fingerprint:
        raise DomainError("request_id_reused")
    if row["status_code"] == _SUCCESS:
        return msgspec.json.decode(row["response"], type=answer_type)
    stored = msgspec.json.decode(row["response"], type=_StoredRefusal)
    raise DomainError(stored.code, stored.message, **stored.details)


async def remember_answer(
    key: str, staff_user: int, answer: msgspec.Struct, now: datetime, request_fingerprint: str
) -> None:
    """Store a success in the transaction that made it: a twin that stored first makes it fail
    with a unique violation, and the whole change rolls back."""
    await IdempotencyRecord.insert(
        IdempotencyRecord(
            key=key,
            staff_user=staff_user,
            status_code=_SUCCESS,
            response=msgspec.json.encode(answer).decode(),
            created_at=now,
            fingerprint=request_fingerprint,
        )
    )


async def remember_refusal(
    key: str, staff_user: int, refusal: DomainError, now: datetime, request_fingerprint: str
) -> None:
    """Store a refusal, unless an answer is already stored under ``key`` (the first one stays)."""
    stored = _StoredRefusal(code=refusal.code, message=refusal.message, details=refusal.details)
    await IdempotencyRecord.insert(
        IdempotencyRecord(
            key=key,
            staff_user=staff_user,
            status_code=_REFUSED,
            response=msgspec.json.encode(stored).decode(),
            created_at=now,
            fingerprint=request_fingerprint,
        )
    ).on_conflict(action="DO NOTHING")
