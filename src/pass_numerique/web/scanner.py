"""The phone scanner's page shell, at ``/scan`` and at ``/v/{token}`` (the voucher QR's URL).

The shell is public and holds no data: the page signs in with a bearer token kept on
the device and calls the JSON API, which decides everything. ``/scan-sw.js`` is the
service worker, served from the root so its scope covers ``/scan`` and ``/v/``.
"""

from __future__ import annotations

from importlib import resources

from litestar import Controller, Response, get
from litestar.response import Template

from pass_numerique.http import guards
from pass_numerique.http.parameters import ScannedParameter
from pass_numerique.http.security_headers import SCANNER_SHELL_HEADERS
from pass_numerique.web.staff.layout import PAGE_EXCEPTION_HANDLERS

STATIC_URL = "/static"
# Bump when a file in static/scan changes: it names the service worker's cache.
ASSET_VERSION = "3"


def _shell() -> Template:
    return Template(
        template_name="scan/index.html",
        context={"static": STATIC_URL, "version": ASSET_VERSION},
        headers=SCANNER_SHELL_HEADERS,
        media_type="text/html",
    )


class ScannerPages(Controller):
    include_in_schema = False
    exception_handlers = PAGE_EXCEPTION_HANDLERS

    @get("/scan", guards=[guards.public])
    async def scan(self) -> Template:
        return _shell()

    @get("/v/{token:str}", guards=[guards.public])
    async def voucher(self, token: ScannedParameter) -> Template:
        """Opened by a phone's own camera app; the page reads the token from its URL."""
        return _shell()

    @get("/scan-sw.js", guards=[guards.public])
    async def service_worker(self) -> Response[str]:
        text = resources.files("pass_numerique.static").joinpath("scan/sw.js").read_text("utf-8")
        return Response(
            text.replace("__VERSION__", ASSET_VERSION),
            media_type="text/javascript",
            headers={"Cache-Control": "no-cache", "Service-Worker-Allowed": "/"},
        )


PAGES = [ScannerPages]
