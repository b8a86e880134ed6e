"""Reports, public statistics, reimbursement statements and period closing over HTTP.

Thin: parse the filters, guard the role, call one domain function (which applies
the actor's scope) and return its struct or an export file.
"""

from __future__ import annotations

from datetime import date
from typing import Literal

from litestar import Controller, Request, Response, get, post
from litestar.di import NamedDependency
from litestar.params import FromQuery, JSONBody

from pass_numerique.domain.reimbursement import statements
from pass_numerique.domain.reports import dashboard, public_statistics
from pass_numerique.domain.reports.figures import Report, ReportFilter
from pass_numerique.http import guards
from pass_numerique.http.authentication import actor_of
from pass_numerique.http.downloads import report_download, statement_download
from pass_numerique.http.openapi import BINARY, TEXT, download_operation
from pass_numerique.http.parameters import (
    IdParameter,
    MonthParameter,
    Offset,
    OptionalLimit,
    OptionalMonth,
    ValueParameter,
)
from pass_numerique.http.report_filters import REPORT_FILTER


class ReportController(Controller):
    path = "/api/v1"
    tags = ["reports"]
    dependencies = REPORT_FILTER

    @get("/reports", guards=[guards.REPORTS])
    async def report(
        self,
        request: Request,
        flt: NamedDependency[ReportFilter],
        site_limit: OptionalLimit = None,
        site_offset: Offset = 0,
        structure_limit: OptionalLimit = None,
        structure_offset: Offset = 0,
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

    @get(
        "/reports/export", guards=[guards.REPORTS], operation_class=download_operation(csv=TEXT, xlsx=BINARY)
    )
    async def export(
        self,
        request: Request,
        flt: NamedDependency[ReportFilter],
        format: FromQuery[Literal["csv", "xlsx"]] = "xlsx",
        table: ValueParameter = "territoires",
    ) -> Response[bytes]:
        """The report as XLSX (one sheet per table) or one table as CSV (``table``: synthese, territoires,
        structures, lieux, mois, thematiques, tranches_age, expiration)."""
        return await report_download(actor_of(request), flt, format, table)

    @get("/public/statistics", guards=[guards.public])
    async def public_statistics(
        self, start: FromQuery[date | None] = None, end: FromQuery[date | None] = None
    ) -> public_statistics.PublicStatistics:
        """Figures per territory for everyone; counts from 1 to 4 are suppressed (null)."""
        return await public_statistics.public_statistics(start, end)


class StatementController(Controller):
    path = "/api/v1"
    tags = ["statements"]

    @get("/statements", guards=[guards.STATEMENTS])
    async def list_statements(
        self, request: Request, month: OptionalMonth = None
    ) -> list[statements.StatementSummary]:
        """Each site's total for a month (default: last month), within the caller's scope."""
        return await statements.list_statements(actor_of(request), month or statements.last_month())

    @get("/statements/{site_id:int}/{month:str}", guards=[guards.STATEMENTS])
    async def statement(
        self, request: Request, site_id: IdParameter, month: MonthParameter
    ) -> statements.Statement:
        return await statements.statement(actor_of(request), site_id, month)

    @get(
        "/statements/{site_id:int}/{month:str}/export",
        guards=[guards.STATEMENTS],
        operation_class=download_operation(pdf=BINARY, csv=TEXT, xlsx=BINARY),
    )
    async def export(
        self,
        request: Request,
        site_id: IdParameter,
        month: MonthParameter,
        format: FromQuery[Literal["csv", "xlsx", "pdf"]] = "pdf",
    ) -> Response[bytes]:
        """The statement as PDF, CSV (French Excel) or XLSX."""
        return await statement_download(actor_of(request), site_id, month, format)

    @post("/statements/{site_id:int}/{month:str}/paid", guards=[guards.MANAGERS], status_code=200)
    async def mark_paid(
        self,
        request: Request,
        site_id: IdParameter,
        month: MonthParameter,
        data: JSONBody[statements.PaymentRequest],
    ) -> statements.Statement:
        """Record the payment of a closed month's statement, with its reference (once)."""
        return await statements.mark_paid(actor_of(request), site_id, month, data)

    @get("/periods", guards=[guards.MANAGERS])
    async def list_periods(self, request: Request) -> list[statements.PeriodOut]:
        return await statements.list_periods(actor_of(request))

    @post("/periods/{month:str}/close", guards=[guards.MANAGERS], status_code=200)
    async def close(self, request: Request, month: MonthParameter) -> statements.PeriodOut:
        """Close a past month for the whole département: its statements are frozen."""
        return await statements.close_period(actor_of(request), month)
