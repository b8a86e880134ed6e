"""Undo a redemption made by mistake, and list redemptions (where undo is offered).

A site agent may undo their site's redemptions within ``PN_AGENT_UNDO_MINUTES`` of recording;
a coordinator or admin until the reimbursement period is closed. The listing gives each
redemption's ``agent_undo_until``, so the scanner offers undo without computing the window itself.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta

import msgspec

from pass_numerique.db.transaction import write_transaction
from pass_numerique.domain import audit, bounds
from pass_numerique.domain.actors import MANAGERS, Actor, Role
from pass_numerique.domain.clock import local_zone, utcnow
from pass_numerique.domain.errors import DomainError, not_found
from pass_numerique.domain.reimbursement import periods
from pass_numerique.domain.reports import booklet_usage
from pass_numerique.domain.states import VoucherStatus
from pass_numerique.domain.tables import Redemption, Voucher
from pass_numerique.settings import get_settings


class UndoRequest(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    reason: bounds.Reason


class RedemptionOut(msgspec.Struct, kw_only=True):
    id: int
    redeemed_at: datetime
    booklet_serial: str
    number: int
    face_value_cents: int
    theme: str
    site_id: int
    site_name: str
    period: str
    late: bool
    undone_at: datetime | None
    undo_reason: str
    agent_undo_until: datetime
    """A site agent may undo it until then (managers: until its period is closed)."""


def agent_undo_until(recorded_at: datetime) -> datetime:
    """The end of a site agent's window to undo a redemption recorded at ``recorded_at``."""
    return recorded_at + timedelta(minutes=get_settings().agent_undo_minutes)


async def undo_redemption(
    actor: Actor, redemption_id: int, request: UndoRequest, *, now: datetime | None = None
) -> RedemptionOut:
    """Reverse a redemption: the voucher is available again. Audited, with a reason.

    A site agent may undo their site's redemptions within a short window; a
    coordinator or admin until the reimbursement period is closed.
    """
    actor.require_role(Role.site_agent, *MANAGERS)
    if not request.reason.strip():
        raise DomainError("invalid_input", "Indiquez le motif de l'annulation.", field="reason")
    now = now or utcnow()
    async with write_transaction():
        row = (
            await Redemption.select(
                Redemption.id,
                Redemption.voucher,
                Redemption.site,
                Redemption.recorded_at,
                Redemption.period,
                Redemption.undone_at,
                Redemption.site.territory.as_alias("territory"),
            )
            .where(Redemption.id == redemption_id)
            .first()
        )
        if row is None or not _may_see_site(actor, row["site"], row["territory"]):
            raise not_found("Encaissement")
        if row["undone_at"] is not None:
            raise DomainError("invalid_state", "Cet encaissement a déjà été annulé.")
        if actor.role == Role.site_agent and now > agent_undo_until(row["recorded_at"]):
            raise DomainError("undo_window_passed")
        if await periods.is_closed(row["period"]):
            raise DomainError("period_closed")
        undone = (
            await Redemption.update(
                {
                    Redemption.undone_at: now,
                    Redemption.undone_by: actor.user_id,
                    Redemption.undo_reason: request.reason.strip()[:200],
                    Redemption.report_pending: True,  # the rollups take it back at the next fold
                }
            )
            .where((Redemption.id == redemption_id) & Redemption.undone_at.is_null())
            .returning(Redemption.id)
        )
        if not undone:
            raise DomainError("invalid_state", "Cet encaissement a déjà été annulé.")
        restored = (
            await Voucher.update({Voucher.status: VoucherStatus.available})
            .where((Voucher.id == row["voucher"]) & (Voucher.status == VoucherStatus.redeemed))
            .returning(Voucher.booklet)
        )
        if restored:
            await booklet_usage.count_undone(restored[0]["booklet"])
        await audit.record(
            actor.user_id,
            "redemption.undo",
            "redemption",
            redemption_id,
            at=now,
            before={"status": "redeemed"},
            after={"status": "undone", "reason": request.reason.strip()},
        )
    return (await list_redemptions(actor, redemption_id=redemption_id))[0]


def _may_see_site(actor: Actor, site_id: int, territory_id: int) -> bool:
    if actor.role == Role.site_agent:
        return actor.site_id == site_id
    return actor.sees_territory(territory_id)


async def list_redemptions(
    actor: Actor,
    *,
    day: date | None = None,
    site_id: int | None = None,
    redemption_id: int | None = None,
    limit: int = 100,
    offset: int = 0,
) -> list[RedemptionOut]:
    """Redemptions in scope, newest first: a site agent sees only their site."""
    actor.require_role(Role.site_agent, *MANAGERS)
    bounds.check_day(day, "day")
    query = (
        Redemption.select(
            Redemption.id,
            Redemption.redeemed_at,
            Redemption.recorded_at,
            Redemption.voucher.booklet.serial.as_alias("booklet_serial"),
            Redemption.voucher.number.as_alias("number"),
            Redemption.voucher.face_value_cents.as_alias("face_value_cents"),
            Redemption.theme,
            Redemption.site.as_alias("site_id"),
            Redemption.site.name.as_alias("site_name"),
            Redemption.period,
            Redemption.late,
            Redemption.undone_at,
            Redemption.undo_reason,
        )
        .order_by(Redemption.id, ascending=False)
        .limit(min(limit, 500))
        .offset(offset)
    )
    if actor.role == Role.site_agent:
        query = query.where(Redemption.site == (actor.site_id or 0))
    elif (scope := actor.territory_filter()) is not None:
        query = query.where(Redemption.site.territory.is_in(list(scope) or [0]))
    if site_id is not None:
        query = query.where(Redemption.site == site_id)
    if redemption_id is not None:
        query = query.where(Redemption.id == redemption_id)
    if day is not None:
        start = datetime.combine(day, datetime.min.time(), tzinfo=local_zone())
        query = query.where(
            (Redemption.redeemed_at >= start) & (Redemption.redeemed_at < start + timedelta(days=1))
        )
    rows = await query
    for row in rows:
        row["agent_undo_until"] = agent_undo_until(row.pop("recorded_at"))
    return msgspec.convert(rows, list[RedemptionOut])
