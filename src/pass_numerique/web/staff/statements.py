"""Reimbursement statements: each site's month, closing a month, downloads and payments.

Coordinators and admins close a finished month (its statements are frozen: a later undo or
offline upload goes to the next open month), download each site's statement and record its
payment. A site agent reads its own site's statements. Closing and paying ask to confirm.
"""

from __future__ import annotations

from typing import Any, Literal

from litestar import Request, Response, get, post
from litestar.params import FromQuery
from litestar.response import Template

from pass_numerique.domain import bounds
from pass_numerique.domain.actors import Role
from pass_numerique.domain.clock import month_of, utcnow
from pass_numerique.domain.errors import DomainError
from pass_numerique.domain.reimbursement import statements
from pass_numerique.domain.scheme import value_lists
from pass_numerique.http import guards
from pass_numerique.http.authentication import actor_of
from pass_numerique.http.downloads import statement_download
from pass_numerique.http.errors import status_of
from pass_numerique.http.parameters import IdParameter, MonthParameter, OptionalShortField
from pass_numerique.web.staff.layout import StaffController, form_errors, form_of, page, see_other


class StatementPages(StaffController):
    async def _month(self, request: Request, month: str, status_code: int = 200, **context: Any) -> Template:
        actor = actor_of(request)
        statements.require_month(month)
        rows = await statements.list_statements(actor, month)
        months = await statements.list_months(actor)
        closed = {m.month for m in months if m.closed_at is not None}
        return page(
            request,
            "statements.html",
            status_code=status_code,
            month=month,
            rows=rows,
            is_closed=month in closed or any(r.closed for r in rows),
            may_close=actor.role in (Role.admin, Role.coordinator) and month < month_of(utcnow()),
            months=months,
            state_labels=statements.STATE_LABELS,
            total_cents=sum(r.total_cents for r in rows),
            total_vouchers=sum(r.voucher_count for r in rows),
            **context,
        )

    @get("/statements", guards=[guards.STATEMENTS])
    async def month(self, request: Request, mois: OptionalShortField = None) -> Template:
        return await self._month(request, (mois or "").strip() or statements.last_month())

    @post("/statements/{month:str}/close", guards=[guards.MANAGERS])
    async def close(self, request: Request, month: MonthParameter) -> Response:
        """First post: the confirmation step; second post (``confirm=oui``): the closing."""
        values = await form_of(request)
        if values.get("confirm") != "oui":
            return await self._month(request, month, confirm_close=True)
        try:
            await statements.close_period(actor_of(request), month)
        except DomainError as exc:
            return await self._month(
                request, month, status_code=status_of(exc), errors={"_form": exc.message}
            )
        return see_other(f"/staff/statements?mois={month}&fait=closed")

    async def _statement(
        self, request: Request, site_id: int, month: str, status_code: int = 200, **context: Any
    ) -> Template:
        actor = actor_of(request)
        return page(
            request,
            "statement.html",
            status_code=status_code,
            statement=await statements.statement(actor, site_id, month),
            may_pay=actor.role in (Role.admin, Role.coordinator),
            state_labels=statements.STATE_LABELS,
            theme_label=lambda code: value_lists.label("thematique", code),
            **context,
        )

    @get("/statements/{site_id:int}/{month:str}", guards=[guards.STATEMENTS])
    async def statement(self, request: Request, site_id: IdParameter, month: MonthParameter) -> Template:
        return await self._statement(request, site_id, month)

    @get("/statements/{site_id:int}/{month:str}/export", guards=[guards.STATEMENTS])
    async def export(
        self,
        request: Request,
        site_id: IdParameter,
        month: MonthParameter,
        format: FromQuery[Literal["csv", "xlsx", "pdf"]] = "pdf",
    ) -> Response[bytes]:
        return await statement_download(actor_of(request), site_id, month, format)

    @post("/statements/{site_id:int}/{month:str}/paid", guards=[guards.MANAGERS])
    async def paid(self, request: Request, site_id: IdParameter, month: MonthParameter) -> Response:
        """First post: the confirmation step; second post (``confirm=oui``): the payment is recorded."""
        values = await form_of(request)
        reference = str(values.get("payment_reference", "")).strip()
        if not reference:
            missing = DomainError(
                "invalid_input",
                "Indiquez la référence du paiement (numéro de mandat…).",
                field="payment_reference",
            )
            errors = form_errors(missing, {"payment_reference"})
            return await self._statement(
                request, site_id, month, status_code=status_of(missing), values=values, errors=errors
            )
        if values.get("confirm") != "oui":
            return await self._statement(request, site_id, month, confirm_paid=True, values=values)
        try:
            await statements.mark_paid(
                actor_of(request),
                site_id,
                month,
                bounds.checked(statements.PaymentRequest(payment_reference=reference)),
            )
        except DomainError as exc:
            errors = form_errors(exc, {"payment_reference"})
            return await self._statement(
                request, site_id, month, status_code=status_of(exc), values=values, errors=errors
            )
        return see_other(f"/staff/statements/{site_id}/{month}?fait=paid")
