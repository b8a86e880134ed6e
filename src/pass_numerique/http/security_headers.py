"""Response headers, all in this module (docs/security.md, "Response headers").

``add_security_headers`` runs on every response of the application (a ``before_send`` hook, so
404s, errors, static files and the OpenAPI pages get it too):

- ``X-Content-Type-Options: nosniff`` and ``X-Frame-Options: DENY`` everywhere;
- ``Cache-Control: no-store`` unless the response chose its own: API answers and pages carry
  codes or personal data, so no browser or proxy keeps them; static files keep their
  ``max-age`` and the scanner's data-free shell its ``no-cache``;
- ``Referrer-Policy: same-origin`` unless the response chose its own;
- ``Strict-Transport-Security`` in production (where ``PN_PUBLIC_URL`` must be https).

Each page family's content security policy is declared here too and set by the family's
responses: ``STAFF_PAGE_HEADERS`` (web/staff/layout.py) and ``SCANNER_SHELL_HEADERS``
(web/scanner.py).
"""

from __future__ import annotations

from litestar.datastructures import MutableScopeHeaders
from litestar.types import BeforeMessageSendHookHandler, Message, Scope

HSTS = "max-age=31536000"
"""One year; no ``includeSubDomains``: the service does not own its parent domain's other hosts."""

STAFF_PAGE_HEADERS = {
    "Cache-Control": "no-store",
    "Referrer-Policy": "same-origin",
    "Content-Security-Policy": (
        "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; "
        "font-src 'self'; connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'"
    ),
}
"""The staff pages: nothing from elsewhere, no inline script or style."""

SCANNER_SHELL_HEADERS = {
    # The shell holds no data (the page asks the API for everything): revalidated, not stored blind.
    "Cache-Control": "no-cache",
    "Referrer-Policy": "no-referrer",  # the voucher token is in /v/ URLs: never leak it
    "Content-Security-Policy": (
        "default-src 'self'; img-src 'self' data: blob:; media-src 'self' blob:; "
        "style-src 'self'; script-src 'self'; connect-src 'self'; worker-src 'self'; "
        "frame-ancestors 'none'; base-uri 'none'; form-action 'none'"
    ),
    "Permissions-Policy": "camera=(self)",
}
"""The phone scanner's page shell at ``/scan`` and ``/v/{token}``."""

VOUCHER_URL_HEADERS = {"Cache-Control": "no-store", "Referrer-Policy": "no-referrer"}
"""Over those, at ``/v/{token}``: it answers a signed-in site agent and anyone else differently
(the scanner, the voucher's public page) and names the voucher, so it is never stored."""


def security_headers_hook(*, production: bool) -> BeforeMessageSendHookHandler:
    """The ``before_send`` hook adding the headers every response carries."""

    async def add_security_headers(message: Message, scope: Scope) -> None:
        if message["type"] != "http.response.start":
            return
        headers = MutableScopeHeaders.from_message(message)
        headers["X-Content-Type-Options"] = "nosniff"
        headers["X-Frame-Options"] = "DENY"
        if "cache-control" not in headers:
            headers["Cache-Control"] = "no-store"
        if "referrer-policy" not in headers:
            headers["Referrer-Policy"] = "same-origin"
        if production:
            headers["Strict-Transport-Security"] = HSTS

    return add_security_headers
