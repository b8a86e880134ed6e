"""Append-only audit trail: who changed what, when, from what to what."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from typing import Any

import msgspec

from pass_numerique.db.json_columns import json_value
from pass_numerique.domain import bounds
from pass_numerique.domain.actors import Actor, Role
from pass_numerique.domain.clock import local_zone, utcnow
from pass_numerique.domain.tables import (
    AuditEvent,
    CoordinatorTerritory,
    DistributingStructure,
    PartnerSite,
    StaffUser,
)


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


class AuditFilter(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    """Which events: by who did it, on what, which action, between which days (local, included)."""

    actor_id: bounds.Id | None = None
    object_type: bounds.ShortField | None = None
    object_id: bounds.ShortField | None = None
    action: bounds.Value | None = None
    start: date | None = None
    end: date | None = None


class AuditPage(msgspec.Struct, kw_only=True):
    entries: list[AuditEntry]
    total: int


async def _people_of(actor: Actor) -> list[int]:
    """The accounts working in a coordinator's territories: its own, its issuers, site agents, peers."""
    territories = sorted(actor.territory_ids) or [0]
    sites = PartnerSite.select(PartnerSite.id).where(PartnerSite.territory.is_in(territories))
    desks = DistributingStructure.select(DistributingStructure.id).where(
        DistributingStructure.territory.is_in(territories)
    )
    peers = CoordinatorTerritory.select(CoordinatorTerritory.staff_user).where(
        CoordinatorTerritory.territory.is_in(territories)
    )
    rows = await StaffUser.select(StaffUser.id).where(
        StaffUser.site.is_in(sites) | StaffUser.structure.is_in(desks) | StaffUser.id.is_in(peers)
    )
    return sorted({actor.user_id, *(r["id"] for r in rows)})


async def search(actor: Actor, flt: AuditFilter, *, limit: int = 50, offset: int = 0) -> AuditPage:
    """Events, newest first. Admins see every event; a coordinator, what the people working in its
    territories did (issuers of its structures, agents of its sites, fellow coordinators, itself)."""
    actor.require_role(Role.admin, Role.coordinator)
    bounds.check_day(flt.start, "start")
    bounds.check_day(flt.end, "end")
    where = AuditEvent.id.is_not_null()
    if actor.role == Role.coordinator:
        where &= AuditEvent.actor.is_in(await _people_of(actor))
    if flt.actor_id is not None:
        where &= AuditEvent.actor == flt.actor_id
    if flt.object_type:
        where &= AuditEvent.object_type == flt.object_type
    if flt.object_id:
        where &= AuditEvent.object_id == flt.object_id.strip()
    if flt.action:
        where &= AuditEvent.action == flt.action
    zone = local_zone()
    if flt.start is not None:
        where &= AuditEvent.at >= datetime.combine(flt.start, time.min, tzinfo=zone)
    if flt.end is not None:
        where &= AuditEvent.at < datetime.combine(flt.end + timedelta(days=1), time.min, tzinfo=zone)
    rows = (
        await AuditEvent.select()
        .where(where)
        .order_by(AuditEvent.id, ascending=False)
        .limit(limit)
        .offset(offset)
    )
    for row in rows:
        row["before"], row["after"] = json_value(row["before"]), json_value(row["after"])
    return AuditPage(
        entries=msgspec.convert(rows, list[AuditEntry]), total=await AuditEvent.count().where(where)
    )


async def actor_names(actor_ids: set[int]) -> dict[int, str]:
    """Display names of the staff members behind audit events (for history pages)."""
    if not actor_ids:
        return {}
    rows = await StaffUser.select(StaffUser.id, StaffUser.display_name).where(
        StaffUser.id.is_in(sorted(actor_ids))
    )
    return {r["id"]: r["display_name"] for r in rows}
