"""Booklet search, a booklet's page with its history, its PDF, and cancel-and-replace."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from litestar import Request, Response, get, post
from litestar.response import Template

from pass_numerique.domain import audit, bounds
from pass_numerique.domain.errors import DomainError
from pass_numerique.domain.issuance import lifecycle
from pass_numerique.http import guards
from pass_numerique.http.authentication import actor_of
from pass_numerique.http.downloads import booklet_download
from pass_numerique.http.errors import status_of
from pass_numerique.http.parameters import OptionalSearch, SerialParameter
from pass_numerique.web.staff.layout import (
    AUDIT_ACTIONS,
    BOOKLET_STATUS,
    VOUCHER_STATUS,
    StaffController,
    form_errors,
    form_of,
    page,
    see_other,
)


class BookletPages(StaffController):
    # -- booklets ------------------------------------------------------------

    @get("/booklets", guards=[guards.ISSUERS])
    async def booklet_search(self, request: Request, numero: OptionalSearch = None) -> Response:
        if numero and numero.strip():
            return see_other(f"/staff/booklets/{quote(numero.strip())}")
        return page(request, "booklet_search.html")

    @post("/booklets/find", guards=[guards.ISSUERS])
    async def find_booklet(self, request: Request) -> Response:
        """A serial, a voucher's short code or its QR, posted (a voucher code never goes into a URL)."""
        values = await form_of(request)
        text = str(values.get("code", ""))
        try:
            if not text.strip():
                raise DomainError(
                    "invalid_input", "Saisissez un numéro de carnet ou un code de chèque.", field="code"
                )
            serial = await lifecycle.find_serial(actor_of(request), text)
        except DomainError as exc:
            return page(
                request,
                "booklet_search.html",
                status_code=status_of(exc),
                values={"code": text.strip()[:100]},
                errors={"code": exc.message},
            )
        return see_other(f"/staff/booklets/{quote(serial)}")

    async def _booklet(
        self, request: Request, serial: str, status_code: int = 200, **context: Any
    ) -> Template:
        actor = actor_of(request)
        booklet = await lifecycle.get_booklet(actor, serial)
        events = await lifecycle.booklet_history(actor, booklet)
        names = await audit.actor_names({e.actor for e in events if e.actor})
        return page(
            request,
            "booklet.html",
            status_code=status_code,
            booklet=booklet,
            events=events,
            names=names,
            actions=AUDIT_ACTIONS,
            booklet_status=BOOKLET_STATUS,
            voucher_status=VOUCHER_STATUS,
            **context,
        )

    @get("/booklets/{serial:str}", guards=[guards.ISSUERS])
    async def booklet(self, request: Request, serial: SerialParameter) -> Template:
        return await self._booklet(request, serial)

    @get("/booklets/{serial:str}/pdf", guards=[guards.ISSUERS], media_type="application/pdf")
    async def booklet_pdf(self, request: Request, serial: SerialParameter) -> Response[bytes]:
        return await booklet_download(actor_of(request), serial)

    @post("/booklets/{serial:str}/cancel", guards=[guards.ISSUERS])
    async def cancel(self, request: Request, serial: SerialParameter) -> Response:
        """First post: the confirmation step; second post (``confirm=oui``): the cancellation."""
        values = await form_of(request)
        reason = str(values.get("reason", "")).strip()
        replace = values.get("replace") == "oui"
        if not reason:
            missing = DomainError("invalid_input", "Indiquez le motif de l'annulation.", field="reason")
            return await self._booklet(
                request,
                serial,
                status_code=status_of(missing),
                values=values,
                errors=form_errors(missing, {"reason"}),
            )
        if values.get("confirm") != "oui":
            return await self._booklet(request, serial, confirm=True, values=values)
        try:
            result = await lifecycle.cancel_booklet(
                actor_of(request),
                serial,
                bounds.checked(lifecycle.CancelRequest(reason=reason, replace=replace)),
            )
        except DomainError as exc:
            return await self._booklet(
                request,
                serial,
                status_code=status_of(exc),
                values=values,
                errors=form_errors(exc, {"reason"}),
            )
        if result.replacement is not None:
            return see_other(f"/staff/booklets/{result.replacement.serial}?fait=replaced")
        return see_other(f"/staff/booklets/{result.cancelled.serial}?fait=cancelled")
