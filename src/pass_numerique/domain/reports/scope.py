"""Which rows a report counts: what the actor may see (their scope), the local days of the period
(the window), and the selections handed to the two rollups' reads.

docs/reports.md, "Scope by role", says what each role sees; this is the one place applying it.
"""

from __future__ import annotations

from datetime import date, datetime

import msgspec

from pass_numerique.domain import bounds
from pass_numerique.domain.actors import Actor, Role
from pass_numerique.domain.clock import add_months, local_date
from pass_numerique.domain.errors import DomainError, not_found
from pass_numerique.domain.reports.booklet_rollups import BookletSelection
from pass_numerique.domain.reports.figures import ReportFilter
from pass_numerique.domain.reports.redemption_rollups import Selection

REPORT_ROLES = (Role.admin, Role.coordinator, Role.issuer, Role.site_agent, Role.viewer)


class Scope(msgspec.Struct, frozen=True, kw_only=True):
    territories: list[int] | None
    """None: every territory."""
    site_id: int | None
    """A site agent's site: the redemptions at that site only."""
    booklets: bool
    """Whether the booklet-side figures are shown (not to a site agent)."""
    serials: bool
    """Whether the expiring booklets are listed by serial (not to the network's observatory)."""
    label: str
    """``all``, ``territories`` or ``site``: ``Report.scope``."""


class Window(msgspec.Struct, frozen=True, kw_only=True):
    """The local days ``start``..``end`` (both included), and today."""

    start: date
    end: date
    today: date


EVERYTHING = Scope(territories=None, site_id=None, booklets=True, serials=False, label="all")
"""Every territory's aggregates, no serial: the public statistics."""


def scope_of(actor: Actor, flt: ReportFilter) -> Scope:
    """What this actor may see of the figures, narrowed by the filters."""
    actor.require_role(*REPORT_ROLES)
    if actor.role == Role.site_agent:
        if flt.site_id is not None and flt.site_id != actor.site_id:
            raise not_found("Lieu")
        return Scope(
            territories=None, site_id=actor.site_id or 0, booklets=False, serials=False, label="site"
        )
    everything = actor.role in (Role.admin, Role.viewer)
    if flt.territory_id is not None:
        if not everything and flt.territory_id not in actor.territory_ids:
            raise not_found("Territoire")
        territories: list[int] | None = [flt.territory_id]
    else:
        territories = None if everything else sorted(actor.territory_ids)
    return Scope(
        territories=territories,
        site_id=None,
        booklets=True,
        serials=actor.role != Role.viewer,
        label="all" if everything else "territories",
    )


def window_of(flt: ReportFilter, now: datetime) -> Window:
    """The period asked for; by default the twelve calendar months up to today."""
    today = local_date(now)
    bounds.check_day(flt.start, "start")
    bounds.check_day(flt.end, "end")
    end = flt.end or today
    # Whole months by default (this month and the eleven before): the rollups answer them alone.
    start = flt.start or add_months(end.replace(day=1), -11)
    if start > end:
        raise DomainError("invalid_input", "La date de début doit précéder la date de fin.", field="start")
    return Window(start=start, end=end, today=today)


def booklet_selection(scope: Scope, flt: ReportFilter, window: Window) -> BookletSelection:
    """The booklets of the period in scope, for ``booklet_rollups.booklet_figures``."""
    return BookletSelection(
        start=window.start,
        end=window.end,
        today=window.today,
        territories=scope.territories,
        programme_id=flt.programme_id,
    )


def redemption_selection(scope: Scope, flt: ReportFilter, window: Window, *, by_site: bool) -> Selection:
    """Live redemptions of the period; territories are the booklet's, or the site's when ``by_site``."""
    return Selection(
        start=window.start,
        end=window.end,
        today=window.today,
        territories=scope.territories,
        territory_of="site" if by_site else "booklet",
        site_id=scope.site_id if scope.site_id is not None else flt.site_id,
        programme_id=flt.programme_id,
        theme=flt.theme or None,
    )
