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
    PrintRun,
    Programme,
    Redemption,
    StaffUser,
    Territory,
    Voucher,
)
from pass_numerique.rendering.french_format import month_label


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


REFERENCE_KEYS: dict[str, str] = {
    "site": "partner_site",
    "site_id": "partner_site",
    "programme": "programme",
    "programme_id": "programme",
    "territory": "territory",
    "territory_id": "territory",
    "structure_id": "distributing_structure",
    "print_run_id": "print_run",
}
"""Keys of an event's before/after that hold the id of another object, and that object's type."""


async def object_names(entries: list[AuditEntry]) -> dict[tuple[str, str], str]:
    """What a person reads for each object of these events, and for the ids their changes hold.

    Keyed by ``(object_type, object_id)``: a voucher reads ``chèque n° 3 du carnet 16-2026-000123``,
    a site or structure its name, an account its display name; booklets are already named by their
    serial, beneficiaries by their pseudonymous id. One query per type of object.
    """
    wanted: dict[str, set[str]] = {}
    for entry in entries:
        wanted.setdefault(entry.object_type, set()).add(entry.object_id)
        for change in (entry.before, entry.after):
            if isinstance(change, dict):
                for key, kind in REFERENCE_KEYS.items():
                    if isinstance(change.get(key), int):
                        wanted.setdefault(kind, set()).add(str(change[key]))
    names: dict[tuple[str, str], str] = {}

    def ids(kind: str) -> list[int]:
        return sorted(int(i) for i in wanted.get(kind, ()) if i.isdigit()) or [0]

    for kind, table in (
        ("partner_site", PartnerSite),
        ("distributing_structure", DistributingStructure),
        ("programme", Programme),
        ("territory", Territory),
    ):
        if kind in wanted:
            for row in await table.select(table.id, table.name).where(table.id.is_in(ids(kind))):
                names[(kind, str(row["id"]))] = row["name"]
    if "staff_user" in wanted:
        for row in await StaffUser.select(StaffUser.id, StaffUser.display_name).where(
            StaffUser.id.is_in(ids("staff_user"))
        ):
            names[("staff_user", str(row["id"]))] = row["display_name"]
    if "voucher" in wanted:
        for row in await Voucher.select(
            Voucher.id, Voucher.number, Voucher.booklet.serial.as_alias("serial")
        ).where(Voucher.id.is_in(ids("voucher"))):
            names[("voucher", str(row["id"]))] = f"n°\u00a0{row['number']} du carnet {row['serial']}"
    if "redemption" in wanted:
        for row in await Redemption.select(
            Redemption.id,
            Redemption.voucher.number.as_alias("number"),
            Redemption.voucher.booklet.serial.as_alias("serial"),
        ).where(Redemption.id.is_in(ids("redemption"))):
            names[("redemption", str(row["id"]))] = (
                f"du chèque n°\u00a0{row['number']} du carnet {row['serial']}"
            )
    if "print_run" in wanted:
        for row in await PrintRun.select(PrintRun.id, PrintRun.first_serial, PrintRun.last_serial).where(
            PrintRun.id.is_in(ids("print_run"))
        ):
            names[("print_run", str(row["id"]))] = (
                f"n°\u00a0{row['id']} (carnets {row['first_serial']} à {row['last_serial']})"
            )
    if "statement" in wanted:
        site_ids = sorted({int(i.split(":")[0]) for i in wanted["statement"] if i.split(":")[0].isdigit()})
        sites = {
            r["id"]: r["name"]
            for r in await PartnerSite.select(PartnerSite.id, PartnerSite.name).where(
                PartnerSite.id.is_in(site_ids or [0])
            )
        }
        for key in wanted["statement"]:
            site, _, month = key.partition(":")
            if site.isdigit() and int(site) in sites:
                names[("statement", key)] = f"{sites[int(site)]}, {month_label(month)}"
    return names
