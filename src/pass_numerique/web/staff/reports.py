"""The dashboard: issued versus used for a period, within the signed-in person's scope.

Coordinators see their territories, admins and the network's observatory (viewer) the whole
département, a site agent its own site (the same page, without the booklet-side figures the
domain does not give them). The filters live in the URL, so a view can be bookmarked or sent.
Every chart is drawn from a table that the page also shows (its text alternative).
"""

from __future__ import annotations

from typing import Literal
from urllib.parse import urlencode

from litestar import Request, Response, get
from litestar.di import NamedDependency
from litestar.params import FromQuery
from litestar.response import Template

from pass_numerique.domain.actors import Actor, Role
from pass_numerique.domain.partners import sites
from pass_numerique.domain.reports import dashboard
from pass_numerique.domain.reports.figures import Report, ReportFilter
from pass_numerique.domain.scheme import programmes, territories, value_lists
from pass_numerique.http import guards
from pass_numerique.http.authentication import actor_of
from pass_numerique.http.downloads import report_download
from pass_numerique.http.parameters import PageNumber, ValueParameter
from pass_numerique.http.report_filters import REPORT_FILTER
from pass_numerique.rendering.charts import bar_chart
from pass_numerique.rendering.french_format import month_label_capitalised
from pass_numerique.web.staff.layout import PAGE_SIZE, StaffController, page, page_count

FUNNEL_STEPS = (
    ("printed", "Imprimés"),
    ("allocated", "Attribués aux structures"),
    ("issued", "Remis aux bénéficiaires"),
    ("started", "Entamés (au moins un chèque utilisé)"),
    ("fully_used", "Entièrement utilisés"),
)
"""The per-territory table's columns: what happened in the period (events, not a cohort)."""

COHORT_STEPS = (
    ("printed", "Imprimés sur la période"),
    ("left_stock", "… sortis du stock"),
    ("issued", "… remis à un bénéficiaire"),
    ("started", "… entamés"),
    ("fully_used", "… entièrement utilisés"),
)
"""The funnel's steps: each counts booklets of the step before (domain/reports/cohort.py)."""


def _charts(result: Report) -> dict[str, object]:
    charts: dict[str, object] = {
        "by_month": bar_chart(
            "graphique-mois",
            "Chèques utilisés par mois de remboursement",
            [(month_label_capitalised(r.key), r.count) for r in result.by_month],
        ),
        "by_theme": bar_chart(
            "graphique-thematiques",
            "Chèques utilisés par thématique d'atelier",
            [(r.label, r.count) for r in result.by_theme],
        ),
        "by_age_band": bar_chart(
            "graphique-ages",
            "Chèques utilisés par tranche d'âge des bénéficiaires",
            [(r.label, r.count) for r in result.by_age_band],
        ),
    }
    if result.cohort is not None:
        charts["funnel"] = bar_chart(
            "graphique-parcours",
            "Devenir des carnets imprimés sur la période, jusqu'à aujourd'hui",
            [(label, getattr(result.cohort, key)) for key, label in COHORT_STEPS],
        )
    if result.first_use is not None:
        charts["first_use"] = bar_chart(
            "graphique-premier-usage",
            "Délai entre la remise du carnet et le premier chèque utilisé",
            [(b.label, b.count) for b in result.first_use.buckets],
        )
    return charts


class ReportPages(StaffController):
    dependencies = REPORT_FILTER

    @get("/reports", guards=[guards.REPORTS])
    async def dashboard(
        self,
        request: Request,
        flt: NamedDependency[ReportFilter],
        page_number: PageNumber = 1,
        structure_page: PageNumber = 1,
    ) -> Template:
        actor = actor_of(request)
        wanted = (max(page_number, 1), max(structure_page, 1))
        result = await _dashboard_report(actor, flt, *wanted)
        pages = (page_count(result.sites_total), page_count(result.structures_total))
        # A stale link after the figures changed: show the last page.
        current = (min(wanted[0], pages[0]), min(wanted[1], pages[1]))
        if current != wanted:
            result = await _dashboard_report(actor, flt, *current)
        all_territories = await territories.list_territories()
        visible = [
            t
            for t in all_territories
            if actor.role in (Role.admin, Role.viewer) or t.id in actor.territory_ids
        ]
        site_list = await sites.list_sites(actor)
        filters = [(k, v) for k, v in request.query_params.items() if k not in _PAGE_PARAMETERS]
        query = urlencode(filters)
        return page(
            request,
            "reports.html",
            report=result,
            charts=_charts(result),
            funnel_steps=FUNNEL_STEPS,
            cohort_steps=COHORT_STEPS,
            territory_names={t.id: t.name for t in all_territories},
            territory_options=[(t.id, t.name) for t in visible] if actor.role != Role.site_agent else [],
            site_options=[(s.id, s.name) for s in site_list] if actor.role != Role.site_agent else [],
            programme_options=[(p.id, p.name) for p in await programmes.list_programmes()],
            theme_options=sorted(value_lists.value_lists()["thematique"].items(), key=lambda item: item[1]),
            theme_label=lambda code: value_lists.label("thematique", code),
            values={name: "" if value is None else str(value) for name, value in _filter_values(flt)},
            export_query=("&" + query) if query else "",
            # Each table's pagination keeps the page the other one shows.
            site_query=urlencode([*filters, ("structure_page", current[1])]),
            structure_query=urlencode([*filters, ("page_number", current[0])]),
            page_number=current[0],
            pages=pages[0],
            structure_page=current[1],
            structure_pages=pages[1],
        )

    @get("/reports/export", guards=[guards.REPORTS])
    async def export(
        self,
        request: Request,
        flt: NamedDependency[ReportFilter],
        format: FromQuery[Literal["csv", "xlsx"]] = "xlsx",
        table: ValueParameter = "territoires",
    ) -> Response[bytes]:
        """The dashboard's figures as a spreadsheet (every table) or one table as CSV."""
        return await report_download(actor_of(request), flt, format, table)


_PAGE_PARAMETERS = ("page_number", "structure_page")


async def _dashboard_report(actor: Actor, flt: ReportFilter, site_page: int, structure_page: int) -> Report:
    """The report with one page of each ranked table (sites, distributing structures)."""
    return await dashboard.report(
        actor,
        flt,
        site_limit=PAGE_SIZE,
        site_offset=(site_page - 1) * PAGE_SIZE,
        structure_limit=PAGE_SIZE,
        structure_offset=(structure_page - 1) * PAGE_SIZE,
    )


def _filter_values(flt: ReportFilter) -> list[tuple[str, object]]:
    return [(name, getattr(flt, name)) for name in flt.__struct_fields__]
