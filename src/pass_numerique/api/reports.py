"""Reports, public statistics, reimbursement statements and period closing over HTTP.

Thin: parse the filters, guard the role, call one domain function (which applies
the actor's scope) and return its struct or an export file.
"""

from __future__ import annotations

from datetime import date
from typing import Literal

from litestar import Controller, Request, Response, get, post
from litestar.di import NamedDependency, Provide
from litestar.params import FromPath, FromQuery, JSONBody

from pass_numerique.domain.actors import Actor
from pass_numerique.domain.errors import DomainError
from pass_numerique.domain.reimbursement import statement_files, statements
from pass_numerique.domain.reports import dashboard
from pass_numerique.domain.reports.export_tables import report_tables
from pass_numerique.domain.reports.figures import Report, ReportFilter
from pass_numerique.domain.reports.public_statistics import PublicStatistics, public_statistics
from pass_numerique.http import guards
from pass_numerique.http.authentication import actor_of
from pass_numerique.rendering import spreadsheets

_MEDIA = {
    "csv": "text/csv",  # Litestar adds "; charset=utf-8" to text types
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    "pdf": "application/pdf",
}


def _download(data: bytes, fmt: str, stem: str) -> Response[bytes]:
    return Response(
        data,
        media_type=_MEDIA[fmt],
        headers={"Content-Disposition": f'attachment; filename="{stem}.{fmt}"'},
    )


def _day(value: str | None, field: str) -> date | None:
    if not value or not value.strip():
        return None  # an empty field of the dashboard's form means "no filter"
    try:
        return date.fromisoformat(value.strip())
    except ValueError:
        raise DomainError("invalid_input", "Date attendue au format AAAA-MM-JJ.", field=field) from None


def _number(value: str | None, field: str) -> int | None:
    if not value or not value.strip():
        return None
    try:
        return int(value.strip())
    except ValueError:
        raise DomainError("invalid_input", "Identifiant invalide.", field=field) from None


def report_filter(
    start: FromQuery[str | None] = None,
    end: FromQuery[str | None] = None,
    territory_id: FromQuery[str | None] = None,
    site_id: FromQuery[str | None] = None,
    programme_id: FromQuery[str | None] = None,
    theme: FromQuery[str | None] = None,
) -> ReportFilter:
    """The report filters, from the query string (shared by the report, its export and the dashboard).

    Empty values count as absent: the dashboard's filter form sends every field.
    """
    return ReportFilter(
        start=_day(start, "start"),
        end=_day(end, "end"),
        territory_id=_number(territory_id, "territory_id"),
        site_id=_number(site_id, "site_id"),
        programme_id=_number(programme_id, "programme_id"),
        theme=(theme or "").strip() or None,
    )


async def report_download(
    actor: Actor, flt: ReportFilter, fmt: Literal["csv", "xlsx"], table: str
) -> Response[bytes]:
    """The report as XLSX (every table) or one table as CSV: for the API and the dashboard page."""
    result = await dashboard.report(actor, flt)
    tables = report_tables(result)
    stem = f"pass-numerique-{result.start}-{result.end}"
    if fmt == "xlsx":
        return _download(spreadsheets.to_xlsx(tables), "xlsx", stem)
    chosen = next((t for t in tables if t.name == table), None)
    if chosen is None:
        names = [t.name for t in tables]
        raise DomainError("invalid_input", "Tableau inconnu.", field="table", allowed=names)
    return _download(spreadsheets.to_csv(chosen), "csv", f"{stem}-{chosen.name}")


async def statement_download(
    actor: Actor, site_id: int, month: str, fmt: Literal["csv", "xlsx", "pdf"]
) -> Response[bytes]:
    """A site's statement for a month as PDF, CSV (French Excel) or XLSX: for the API and the pages."""
    result = await statements.statement(actor, site_id, month)
    stem = f"releve-{site_id}-{month}"
    if fmt == "pdf":
        return _download(statement_files.statement_pdf(result), "pdf", stem)
    table = statement_files.statement_table(result)
    data = spreadsheets.to_csv(table) if fmt == "csv" else spreadsheets.to_xlsx([table])
    return _download(data, fmt, stem)


class ReportController(Controller):
    path = "/api/v1"
    tags = ["reports"]
    dependencies = {"flt": Provide(report_filter, sync_to_thread=False)}

    @get("/reports", guards=[guards.REPORTS])
    async def report(
        self,
        request: Request,
        flt: NamedDependency[ReportFilter],
        site_limit: FromQuery[int | None] = None,
        site_offset: FromQuery[int] = 0,
        structure_limit: FromQuery[int | None] = None,
        structure_offset: FromQuery[int] = 0,
    ) -> Report:
        """Issued versus used for a period (default: twelve calendar months), within the caller's scope.

        ``site_limit``/``site_offset`` page the per-site table (``sites_total`` sites, most vouchers
        first; default: all); ``structure_limit``/``structure_offset`` page the per-structure table
        (``structures_total`` structures, most sleeping stock first; default: all).
        """
        return await dashboard.report(
            actor_of(request),
            flt,
            site_limit=site_limit,
            site_offset=site_offset,
            structure_limit=structure_limit,
            structure_offset=structure_offset,
        )

    @get("/reports/export", guards=[guards.REPORTS])
    async def export(
        self,
        request: Request,
        flt: NamedDependency[ReportFilter],
        format: FromQuery[Literal["csv", "xlsx"]] = "xlsx",
        table: FromQuery[str] = "territoires",
    ) -> Response[bytes]:
        """The report as XLSX (one sheet per table) or one table as CSV (``table``: synthese, territoires,
        structures, lieux, mois, thematiques, tranches_age, expiration)."""
        return await report_download(actor_of(request), flt, format, table)

    @get("/public/statistics", guards=[guards.public])
    async def public_statistics(
        self, start: FromQuery[date | None] = None, end: FromQuery[date | None] = None
    ) -> PublicStatistics:
        """Figures per territory for everyone; counts from 1 to 4 are suppressed (null)."""
        return await public_statistics(start, end)


class StatementController(Controller):
    path = "/api/v1"
    tags = ["statements"]

    @get("/statements", guards=[guards.STATEMENTS])
    async def list_statements(
        self, request: Request, month: FromQuery[str | None] = None
    ) -> list[statements.StatementSummary]:
        """Each site's total for a month (default: last month), within the caller's scope."""
        return await statements.list_statements(actor_of(request), month or statements.last_month())

    @get("/statements/{site_id:int}/{month:str}", guards=[guards.STATEMENTS])
    async def statement(
        self, request: Request, site_id: FromPath[int], month: FromPath[str]
    ) -> statements.Statement:
        return await statements.statement(actor_of(request), site_id, month)

    @get("/statements/{site_id:int}/{month:str}/export", guards=[guards.STATEMENTS])
    async def export(
        self,
        request: Request,
        site_id: FromPath[int],
        month: FromPath[str],
        format: FromQuery[Literal["csv", "xlsx", "pdf"]] = "pdf",
    ) -> Response[bytes]:
        """The statement as PDF, CSV (French Excel) or XLSX."""
        return await statement_download(actor_of(request), site_id, month, format)

    @post("/statements/{site_id:int}/{month:str}/paid", guards=[guards.MANAGERS], status_code=200)
    async def mark_paid(
        self,
        request: Request,
        site_id: FromPath[int],
        month: FromPath[str],
        data: JSONBody[statements.PaymentRequest],
    ) -> statements.Statement:
        """Record the payment of a closed month's statement, with its reference (once)."""
        return await statements.mark_paid(actor_of(request), site_id, month, data)

    @get("/periods", guards=[guards.MANAGERS])
    async def list_periods(self, request: Request) -> list[statements.PeriodOut]:
        return await statements.list_periods(actor_of(request))

    @post("/periods/{month:str}/close", guards=[guards.MANAGERS], status_code=200)
    async def close(self, request: Request, month: FromPath[str]) -> statements.PeriodOut:
        """Close a past month for the whole département: its statements are frozen."""
        return await statements.close_period(actor_of(request), month)
