"""Public pages, no login: the partner sites of a territory and the scheme's statistics.

The QR code on every booklet cover opens ``/lieux/{code}`` (``rendering/booklet_pdf.py``), so a
beneficiary finds where to use their vouchers. ``/statistiques`` shows everyone the figures
per territory, with counts from 1 to 4 hidden so no one can be singled out. Every page's footer
links the legal pages a public service owes its users: legal notice, accessibility, personal data
(the operator's details come from the settings: ``PN_OPERATOR_NAME``, ``PN_CONTACT_EMAIL``…).
"""

from __future__ import annotations

from datetime import date

from litestar import Controller, Request, get
from litestar.params import FromQuery
from litestar.response import Template

from pass_numerique.domain.partners import opening_hours, sites
from pass_numerique.domain.reports.public_statistics import public_statistics
from pass_numerique.http import guards
from pass_numerique.http.parameters import CodeParameter
from pass_numerique.settings import get_settings
from pass_numerique.web.staff.layout import PAGE_EXCEPTION_HANDLERS, page


class PublicPages(Controller):
    include_in_schema = False
    exception_handlers = PAGE_EXCEPTION_HANDLERS

    @get("/lieux/{territory_code:str}", guards=[guards.public])
    async def territory_sites(self, request: Request, territory_code: CodeParameter) -> Template:
        listing = await sites.public_sites(territory_code)
        return page(request, "public_sites.html", listing=listing, hours=opening_hours.in_french)

    @get("/statistiques", guards=[guards.public])
    async def statistics(
        self, request: Request, start: FromQuery[date | None] = None, end: FromQuery[date | None] = None
    ) -> Template:
        figures = await public_statistics(start, end)
        return page(request, "public_statistics.html", figures=figures)

    # -- the legal pages every public service links from its footer (templates/staff/base.html) --

    @get("/mentions-legales", guards=[guards.public])
    async def legal_notice(self, request: Request) -> Template:
        return page(request, "legal_notice.html", operator=get_settings())

    @get("/accessibilite", guards=[guards.public])
    async def accessibility(self, request: Request) -> Template:
        return page(request, "accessibility.html", operator=get_settings())

    @get("/donnees-personnelles", guards=[guards.public])
    async def personal_data(self, request: Request) -> Template:
        return page(request, "personal_data.html", operator=get_settings())


PAGES = [PublicPages]
