"""The phone scanner's page shell at ``/scan``, and ``/v/{token}``, the URL of every voucher QR.

The shell holds no data: the page calls the JSON API with a bearer token kept on the device,
and the API decides everything. There is one sign-in, the staff pages' (``/staff/login``): the
shell trades a site agent's session cookie for that bearer token (``POST /scan/session``,
CSRF-protected like every form), so an agent signed in on the staff pages can scan and an agent
signed in for the scanner can open the staff pages. ``/v/{token}`` is the scanner with the code
filled for a signed-in site agent, and for anyone else the public page of that voucher
(``domain/redemption/public_voucher.py``). ``/scan-sw.js`` is the service worker, served from
the root so its scope covers ``/scan`` and ``/v/``.
"""

from __future__ import annotations

from importlib import resources
from urllib.parse import quote

import msgspec
from litestar import Controller, Request, Response, get, post
from litestar.response import Template

from pass_numerique.domain.accounts import authentication
from pass_numerique.domain.actors import Actor
from pass_numerique.domain.errors import DomainError
from pass_numerique.domain.redemption import public_voucher
from pass_numerique.domain.vouchers import codes
from pass_numerique.http import errors, guards
from pass_numerique.http.authentication import actor_of, is_site_agent
from pass_numerique.http.errors import JSON_ERRORS, status_of
from pass_numerique.http.parameters import ScannedParameter
from pass_numerique.http.security_headers import SCANNER_SHELL_HEADERS, VOUCHER_URL_HEADERS
from pass_numerique.web.staff.layout import LOGIN_URL, PAGE_EXCEPTION_HANDLERS, page

STATIC_URL = "/static"
SCAN_URL = "/scan"
# Bump when a file in static/scan changes: it names the service worker's cache.
ASSET_VERSION = "6"


class ScannerSession(msgspec.Struct, kw_only=True):
    """The scanner's bearer token, traded for a site agent's staff session."""

    token: authentication.IssuedToken
    user: Actor


def _shell(request: Request, *, no_store: bool = False) -> Template:
    headers = {**SCANNER_SHELL_HEADERS, **(VOUCHER_URL_HEADERS if no_store else {})}
    actor = request.scope.get("user")
    return Template(
        template_name="scan/index.html",
        context={
            "static": STATIC_URL,
            "version": ASSET_VERSION,
            # Longer than any URL the service prints; the server bounds what it reads the same way.
            "max_code_length": codes.MAX_INPUT,
            "login_url": f"{LOGIN_URL}?suite={quote(SCAN_URL)}",
            # Who signed in on the staff pages: a phone keeping another agent's token drops it.
            "staff_user": actor.user_id if is_site_agent(request) else "",
        },
        headers=headers,
        media_type="text/html",
    )


class ScannerPages(Controller):
    include_in_schema = False
    exception_handlers = PAGE_EXCEPTION_HANDLERS

    @get(SCAN_URL, guards=[guards.public])
    async def scan(self, request: Request) -> Template:
        return _shell(request)

    @get("/v/{token:str}", guards=[guards.public])
    async def voucher(self, request: Request, token: ScannedParameter) -> Template:
        """A site agent's scanner with this code filled; for anyone else, the voucher's public page."""
        if is_site_agent(request):
            return _shell(request, no_store=True)
        try:
            facts = await public_voucher.public_voucher(token)
        except DomainError as exc:
            response = page(request, "voucher_unknown.html", status_code=status_of(exc))
        else:
            response = page(request, "public_voucher.html", voucher=facts, token=token)
        response.headers.update(VOUCHER_URL_HEADERS)
        return response

    @get("/scan-sw.js", guards=[guards.public])
    async def service_worker(self) -> Response[str]:
        text = resources.files("pass_numerique.static").joinpath("scan/sw.js").read_text("utf-8")
        return Response(
            text.replace("__VERSION__", ASSET_VERSION),
            media_type="text/javascript",
            headers={"Cache-Control": "no-cache", "Service-Worker-Allowed": "/"},
        )


# The exchange is read by the page's script: its refusals are the API's JSON (401 without a session,
# 403 for another role or a missing CSRF token), never the pages' redirect to the sign-in. Every
# class the pages' handlers name gets the API's handler of its nearest class: the most specific
# class a handler is declared for wins, whatever the layer.
_JSON_ERRORS = {
    **errors.API_EXCEPTION_HANDLERS,
    **{
        exc_type: next(
            errors.API_EXCEPTION_HANDLERS[c] for c in exc_type.__mro__ if c in errors.API_EXCEPTION_HANDLERS
        )
        for exc_type in PAGE_EXCEPTION_HANDLERS
    },
}


class ScannerSessionExchange(Controller):
    """Read by the page's script: errors are JSON, never a page."""

    include_in_schema = False
    exception_handlers = _JSON_ERRORS

    @post(
        "/scan/session",
        guards=[guards.SITE_AGENT],
        status_code=200,
        opt={JSON_ERRORS: True},
    )
    async def session_token(self, request: Request) -> ScannerSession:
        """The scanner's 30-day bearer token for the site agent of this staff session."""
        actor = actor_of(request)
        token = await authentication.scanner_token(actor)
        return ScannerSession(token=token, user=actor)


PAGES = [ScannerPages, ScannerSessionExchange]
