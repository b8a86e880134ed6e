"""The figures and tasks of a staff member's home page, by role, taken from the dashboard's report.

A home page is a work page: what the person has to act on today, before the full dashboard.
Everything here is read by ``dashboard.report`` within the actor's scope; this module only picks.
"""

from __future__ import annotations

from datetime import date, datetime

import msgspec

from pass_numerique.domain.actors import MANAGERS, Actor, Role
from pass_numerique.domain.clock import local_date, utcnow
from pass_numerique.domain.reports import dashboard
from pass_numerique.domain.reports.figures import ExpiringBooklet, ReportFilter, StructureFunnel, Totals

SLEEPING_DAYS = 30
"""Stock allocated to a structure and not issued for longer than this is shown as a task."""
EXPIRING_SHOWN = 10
"""Booklets expiring soon listed on the home page (the dashboard lists them all)."""


class HomeFigures(msgspec.Struct, kw_only=True):
    today: date
    start: date
    """First day of ``totals``' period (twelve calendar months; today only for a site agent)."""
    totals: Totals
    sleeping_structures: list[StructureFunnel]
    """Structures holding booklets allocated more than ``SLEEPING_DAYS`` ago and not issued, oldest
    first (admins and coordinators only)."""
    expiring_booklets_30_days: int
    expiring_vouchers_30_days: int
    expiring_booklets: list[ExpiringBooklet]
    """The first ``EXPIRING_SHOWN`` booklets with unused vouchers expiring within 60 days (by serial:
    never for the network's observatory)."""


async def home_figures(actor: Actor, *, now: datetime | None = None) -> HomeFigures:
    """The home page's figures for this actor: a site agent's today at its site, the others'
    last twelve months, sleeping stock and expiring booklets within their scope."""
    now = now or utcnow()
    today = local_date(now)
    flt = ReportFilter(start=today, end=today) if actor.role == Role.site_agent else ReportFilter()
    report = await dashboard.report(actor, flt, now=now, site_limit=1)
    # Handing stock out is the coordinators' work: an issuer sees its own drawer at the desk.
    sleeping = sorted(
        (s for s in report.structures if (s.oldest_sleeping_days or 0) > SLEEPING_DAYS),
        key=lambda s: (-(s.oldest_sleeping_days or 0), s.structure_name),
    )
    if actor.role not in MANAGERS:
        sleeping = []
    return HomeFigures(
        today=today,
        start=report.start,
        totals=report.totals,
        sleeping_structures=sleeping,
        expiring_booklets_30_days=sum(t.booklets_30_days for t in report.expiring),
        expiring_vouchers_30_days=sum(t.vouchers_30_days for t in report.expiring),
        expiring_booklets=report.expiring_booklets[:EXPIRING_SHOWN],
    )
