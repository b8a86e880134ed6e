"""Append-only audit trail: who changed what, when, from what to what."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import msgspec

from pass_numerique.db.json_columns import json_value
from pass_numerique.db.tables import AuditEvent, StaffUser
from pass_numerique.domain.clock import utcnow


def _plain(value: Any) -> Any:
    return msgspec.to_builtins(value) if value is not None else None


async def record(
    actor_id: int | None,
    action: str,
    object_type: str,
    object_id: object,
    *,
    before: Any = None,
    after: Any = None,
    at: datetime | None = None,
) -> None:
    """Insert one event; call it inside the transaction that makes the change."""
    await AuditEvent.insert(
        AuditEvent(
            at=at or utcnow(),
            actor=actor_id,
            action=action,
            object_type=object_type,
            object_id=str(object_id),
            before=_plain(before),
            after=_plain(after),
        )
    )


class AuditEntry(msgspec.Struct, frozen=True):
    id: int
    at: datetime
    actor: int | None
    action: str
    object_type: str
    object_id: str
    before: Any
    after: Any


async def history(
    *,
    object_type: str | None = None,
    object_id: str | None = None,
    actor_id: int | None = None,
    limit: int = 100,
    offset: int = 0,
) -> list[AuditEntry]:
    """Events, newest first, filtered by object and/or actor."""
    query = AuditEvent.select().order_by(AuditEvent.id, ascending=False).limit(limit).offset(offset)
    if object_type:
        query = query.where(AuditEvent.object_type == object_type)
    if object_id:
        query = query.where(AuditEvent.object_id == object_id)
    if actor_id:
        query = query.where(AuditEvent.actor == actor_id)
    rows = await query
    for row in rows:
        row["before"], row["after"] = json_value(row["before"]), json_value(row["after"])
    return msgspec.convert(rows, list[AuditEntry])


async def actor_names(actor_ids: set[int]) -> dict[int, str]:
    """Display names of the staff members behind audit events (for history pages)."""
    if not actor_ids:
        return {}
    rows = await StaffUser.select(StaffUser.id, StaffUser.display_name).where(
        StaffUser.id.is_in(sorted(actor_ids))
    )
    return {r["id"]: r["display_name"] for r in rows}
