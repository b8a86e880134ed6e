"""Public pages, no login: the list of partner sites of a territory (``/lieux/{code}``).

The QR code on every booklet cover opens this page (``domain/printing.py``), so a
beneficiary finds where to use their vouchers.
"""

from __future__ import annotations

from litestar import Controller, Request, get
from litestar.params import FromPath
from litestar.response import Template

from pass_numerique.api import guards
from pass_numerique.domain import sites
from pass_numerique.web.staff.layout import PAGE_EXCEPTION_HANDLERS, page


class PublicPages(Controller):
    include_in_schema = False
    exception_handlers = PAGE_EXCEPTION_HANDLERS

    @get("/lieux/{territory_code:str}", guards=[guards.public])
    async def territory_sites(self, request: Request, territory_code: FromPath[str]) -> Template:
        listing = await sites.public_sites(territory_code)
        return page(request, "public_sites.html", listing=listing)


PAGES = [PublicPages]
