"""Reimbursement statements: what each partner site is owed for a month, closing, payment.

A statement lists every live redemption whose reimbursement period is the month
at the site. Closing a month freezes its statements: ``redemption.undo_redemption``
refuses an undo in a closed period, and a redemption dated in a closed month (a
late upload of the offline queue) falls in the next open month
(``periods.open_period_for``). A closed month's statement can then be marked paid,
once, with a payment reference. Every change is audited in its transaction.
"""

from __future__ import annotations

import re
from datetime import date, datetime
from typing import Literal

import msgspec
from piccolo.query.functions.aggregate import Count, Sum

from pass_numerique.db.transaction import write_transaction
from pass_numerique.domain import audit, bounds
from pass_numerique.domain.actors import MANAGERS, Actor, Role
from pass_numerique.domain.clock import month_of, utcnow
from pass_numerique.domain.errors import DomainError, not_found
from pass_numerique.domain.reimbursement import periods
from pass_numerique.domain.reports import redemption_rollups
from pass_numerique.domain.tables import PartnerSite, Redemption, ReimbursementPeriod, StatementPayment
from pass_numerique.settings import get_settings

STATEMENT_ROLES = (Role.admin, Role.coordinator, Role.site_agent)
_MONTH = re.compile(r"^\d{4}-(0[1-9]|1[0-2])$")


StatementState = Literal["open", "closed", "paid"]
STATE_LABELS: dict[str, str] = {
    "open": "Ouvert",
    "closed": "Clôturé, à payer",
    "paid": "Payé",
}
"""What each state of a statement (or of a month: paid when every statement of it is) reads."""


def state_of(closed: bool, paid: bool) -> StatementState:
    """A statement's state: open until its month is closed, then closed until it is paid."""
    return "paid" if paid else "closed" if closed else "open"


class Payer(msgspec.Struct, kw_only=True):
    """Who pays the statements: the département (``PN_PAYER_NAME``, ``PN_PAYER_ADDRESS``)."""

    name: str
    address: str


def payer() -> Payer:
    settings = get_settings()
    return Payer(name=settings.payer_name, address=settings.payer_address)


class StatementLine(msgspec.Struct, kw_only=True):
    redemption_id: int
    redeemed_at: datetime
    booklet_serial: str
    voucher_number: int
    theme: str
    face_value_cents: int
    late: bool


class Payment(msgspec.Struct, kw_only=True):
    paid_at: datetime
    payment_reference: str
    total_cents: int
    voucher_count: int


class Statement(msgspec.Struct, kw_only=True):
    site_id: int
    site_name: str
    territory_id: int
    siret: str | None
    site_address: str
    """The site's postal address on one line (street, postal code, commune); empty when unknown."""
    payer: Payer
    month: str
    closed: bool
    state: StatementState
    voucher_count: int
    total_cents: int
    payment: Payment | None
    lines: list[StatementLine]


class StatementSummary(msgspec.Struct, kw_only=True):
    site_id: int
    site_name: str
    territory_id: int
    month: str
    closed: bool
    state: StatementState
    voucher_count: int
    total_cents: int
    payment: Payment | None


class MonthSummary(msgspec.Struct, kw_only=True):
    """One reimbursement month within the actor's scope: its state and what its statements add up to."""

    month: str
    state: StatementState
    """``paid`` once every statement of a closed month with vouchers is paid."""
    closed_at: datetime | None
    site_count: int
    """Sites with at least one voucher in the month."""
    voucher_count: int
    total_cents: int
    paid_count: int
    """Statements of the month marked paid."""
    paid_cents: int


class PeriodOut(msgspec.Struct, kw_only=True):
    month: str
    closed_at: datetime | None
    closed_by: int | None


class PaymentRequest(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    payment_reference: bounds.Label
    """E.g. the mandate number of the département's accounting."""


def last_month(now: datetime | None = None) -> str:
    """The month before the current one: the one usually closed and paid next."""
    current = month_of(now or utcnow())
    year, number = int(current[:4]), int(current[5:])
    return f"{year - 1}-12" if number == 1 else f"{year}-{number - 1:02d}"


def require_month(month: str) -> str:
    if not _MONTH.match(month):
        raise DomainError("invalid_input", "Mois attendu au format AAAA-MM.", field="month")
    # The days a filter may name: year 0001 or 9999 closed a period, 0000 read a statement.
    bounds.check_day(date(int(month[:4]) or 1, int(month[5:]), 1), "month")
    return month


async def _site(actor: Actor, site_id: int) -> dict:
    actor.require_role(*STATEMENT_ROLES)
    row = (
        await PartnerSite.select(
            PartnerSite.id,
            PartnerSite.name,
            PartnerSite.territory,
            PartnerSite.siret,
            PartnerSite.address,
            PartnerSite.postal_code,
            PartnerSite.commune_name,
        )
        .where(PartnerSite.id == site_id)
        .first()
    )
    if row is None:
        raise not_found("Lieu")
    if actor.role == Role.site_agent:
        if actor.site_id != site_id:
            raise not_found("Lieu")
    elif not actor.sees_territory(row["territory"]):
        raise not_found("Lieu")
    return row


def _live(month: str) -> object:
    return Redemption.undone_at.is_null() & (Redemption.period == month)


async def _payments(month: str, site_ids: list[int]) -> dict[int, Payment]:
    rows = await StatementPayment.select().where(
        (StatementPayment.month == month) & StatementPayment.site.is_in(site_ids or [0])
    )
    return {r["site"]: msgspec.convert(r, Payment, strict=False) for r in rows}


async def statement(actor: Actor, site_id: int, month: str) -> Statement:
    """One site's statement for one month: every live redemption of the period and the total due."""
    require_month(month)
    site = await _site(actor, site_id)
    lines = msgspec.convert(
        await Redemption.select(
            Redemption.id.as_alias("redemption_id"),
            Redemption.redeemed_at,
            Redemption.voucher.booklet.serial.as_alias("booklet_serial"),
            Redemption.voucher.number.as_alias("voucher_number"),
            Redemption.theme,
            Redemption.voucher.face_value_cents.as_alias("face_value_cents"),
            Redemption.late,
        )
        .where(_live(month) & (Redemption.site == site_id))
        .order_by(Redemption.redeemed_at)
        .order_by(Redemption.id),
        list[StatementLine],
    )
    closed = await periods.is_closed(month)
    payment = (await _payments(month, [site_id])).get(site_id)
    town = " ".join(part for part in (site["postal_code"], site["commune_name"]) if part)
    return Statement(
        site_id=site["id"],
        site_name=site["name"],
        territory_id=site["territory"],
        siret=site["siret"],
        site_address=", ".join(part for part in (site["address"], town) if part),
        payer=payer(),
        month=month,
        closed=closed,
        state=state_of(closed, payment is not None),
        voucher_count=len(lines),
        total_cents=sum(line.face_value_cents for line in lines),
        payment=payment,
        lines=lines,
    )


async def list_statements(actor: Actor, month: str) -> list[StatementSummary]:
    """Every site's total for the month, within the actor's scope (one grouped query)."""
    actor.require_role(*STATEMENT_ROLES)
    require_month(month)
    # From the monthly site rollup (domain/reports/redemption_rollups.py): a row per site and key.
    agent = actor.role == Role.site_agent
    scope = None if agent else actor.territory_filter()
    totals = await redemption_rollups.site_totals_of_period(
        month,
        territories=None if scope is None else sorted(scope),
        site_id=(actor.site_id or 0) if agent else None,
    )
    names = {
        s["id"]: s
        for s in await PartnerSite.select(PartnerSite.id, PartnerSite.name, PartnerSite.territory).where(
            PartnerSite.id.is_in([t["site"] for t in totals] or [0])
        )
    }
    rows = [
        {
            "site_id": t["site"],
            "site_name": names[t["site"]]["name"],
            "territory_id": names[t["site"]]["territory"],
            "voucher_count": t["count"],
            "total_cents": t["amount"],
        }
        for t in totals
    ]
    closed = await periods.is_closed(month)
    payments = await _payments(month, [r["site_id"] for r in rows])
    return sorted(
        (
            StatementSummary(
                **{**r, "total_cents": int(r["total_cents"] or 0)},
                month=month,
                closed=closed,
                state=state_of(closed, r["site_id"] in payments),
                payment=payments.get(r["site_id"]),
            )
            for r in rows
        ),
        key=lambda s: s.site_name,
    )


async def list_months(actor: Actor, *, now: datetime | None = None) -> list[MonthSummary]:
    """Every reimbursement month with vouchers or closed, and the current and last months, newest
    first, with their state and totals within the actor's scope (the statements page's months)."""
    actor.require_role(*STATEMENT_ROLES)
    agent = actor.role == Role.site_agent
    scope = None if agent else actor.territory_filter()
    totals = await redemption_rollups.site_totals_by_period(
        None,
        territories=None if scope is None else sorted(scope),
        site_id=(actor.site_id or 0) if agent else None,
    )
    closed_at = {
        r["month"]: r["closed_at"]
        for r in await ReimbursementPeriod.select(
            ReimbursementPeriod.month, ReimbursementPeriod.closed_at
        ).where(ReimbursementPeriod.closed_at.is_not_null())
    }
    owed = {(t["period"], t["site"]) for t in totals}
    paid_rows = await StatementPayment.select(
        StatementPayment.month, StatementPayment.site, StatementPayment.total_cents
    ).where(StatementPayment.site.is_in(sorted({site for _, site in owed}) or [0]))
    paid = {(r["month"], r["site"]): r["total_cents"] for r in paid_rows if (r["month"], r["site"]) in owed}
    now = now or utcnow()
    months = {t["period"] for t in totals} | set(closed_at) | {month_of(now), last_month(now)}
    out = []
    for month in sorted(months, reverse=True):
        of_month = [t for t in totals if t["period"] == month]
        paid_here = [cents for (m, _), cents in paid.items() if m == month]
        closed = month in closed_at
        out.append(
            MonthSummary(
                month=month,
                state=state_of(closed, closed and bool(of_month) and len(paid_here) == len(of_month)),
                closed_at=closed_at.get(month),
                site_count=len(of_month),
                voucher_count=sum(t["count"] for t in of_month),
                total_cents=sum(t["amount"] for t in of_month),
                paid_count=len(paid_here),
                paid_cents=sum(paid_here),
            )
        )
    return out


async def close_period(actor: Actor, month: str, *, now: datetime | None = None) -> PeriodOut:
    """Close a past month for the whole département: its statements are frozen from now on."""
    actor.require_role(*MANAGERS)
    require_month(month)
    now = now or utcnow()
    if month >= month_of(now):
        raise DomainError("invalid_state", "Seul un mois terminé peut être clôturé.")
    async with write_transaction():
        await ReimbursementPeriod.insert(ReimbursementPeriod(month=month)).on_conflict(action="DO NOTHING")
        closed = (
            await ReimbursementPeriod.update(
                {ReimbursementPeriod.closed_at: now, ReimbursementPeriod.closed_by: actor.user_id}
            )
            .where((ReimbursementPeriod.month == month) & ReimbursementPeriod.closed_at.is_null())
            .returning(ReimbursementPeriod.month)
        )
        if not closed:
            raise DomainError("invalid_state", "Cette période est déjà clôturée.")
        totals = await Redemption.select(
            Count().as_alias("vouchers"), Sum(Redemption.voucher.face_value_cents).as_alias("cents")
        ).where(_live(month))
        await audit.record(
            actor.user_id,
            "period.close",
            "reimbursement_period",
            month,
            at=now,
            before={"closed": False},
            after={"closed": True, "vouchers": totals[0]["vouchers"], "total_cents": totals[0]["cents"] or 0},
        )
    return PeriodOut(month=month, closed_at=now, closed_by=actor.user_id)


async def mark_paid(
    actor: Actor, site_id: int, month: str, request: PaymentRequest, *, now: datetime | None = None
) -> Statement:
    """Record the payment of a closed month's statement, once, with its reference."""
    actor.require_role(*MANAGERS)
    reference = request.payment_reference.strip()
    if not reference:
        raise DomainError("invalid_input", "Indiquez la référence du paiement.", field="payment_reference")
    current = await statement(actor, site_id, month)
    if not current.closed:
        raise DomainError("invalid_state", "Clôturez la période avant de marquer le relevé payé.")
    now = now or utcnow()
    async with write_transaction():
        inserted = (
            await StatementPayment.insert(
                StatementPayment(
                    site=site_id,
                    month=month,
                    statement_key=f"{site_id}:{month}",
                    voucher_count=current.voucher_count,
                    total_cents=current.total_cents,
                    payment_reference=reference[:100],
                    paid_at=now,
                    paid_by=actor.user_id,
                )
            )
            .on_conflict(action="DO NOTHING")
            .returning(StatementPayment.id)
        )
        if not inserted:
            raise DomainError("invalid_state", "Ce relevé est déjà marqué payé.")
        await audit.record(
            actor.user_id,
            "statement.paid",
            "statement",
            f"{site_id}:{month}",
            at=now,
            before={"paid": False},
            after={
                "paid": True,
                "payment_reference": reference[:100],
                "total_cents": current.total_cents,
                "vouchers": current.voucher_count,
            },
        )
    return await statement(actor, site_id, month)


async def list_periods(actor: Actor) -> list[PeriodOut]:
    actor.require_role(*MANAGERS)
    rows = await ReimbursementPeriod.select().order_by(ReimbursementPeriod.month, ascending=False)
    return [PeriodOut(month=r["month"], closed_at=r["closed_at"], closed_by=r["closed_by"]) for r in rows]
