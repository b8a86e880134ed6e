"""Who is calling: a bearer token (API) or a session cookie (staff pages) resolves to an Actor, or to nobody.

The JSON API under ``/api/`` only ever reads the bearer token and ignores the session
cookie: a browser attaches cookies to cross-site requests by itself, never an
``Authorization`` header, so a forged request to the API from another site is anonymous.
The pages, which do read the cookie, are protected by the CSRF middleware
(docs/staff-app.md).
"""

from __future__ import annotations

from urllib.parse import urlsplit

from litestar import Request
from litestar.connection import ASGIConnection
from litestar.middleware import AbstractAuthenticationMiddleware, AuthenticationResult

from pass_numerique.domain.accounts import authentication, sessions
from pass_numerique.domain.actors import Actor, Role

API_PREFIX = "/api/"


def local_path(target: str | None) -> str | None:
    """``target`` when it is a path of this site to send a browser back to, else None.

    What comes back after signing in is typed by anyone (``?suite=``): never an absolute URL,
    a scheme-relative ``//host``, a backslash some browsers read as a slash, or control characters,
    so the login is no open redirect; never the API or the login page itself.
    """
    if not target or len(target) > 1000 or not target.startswith("/") or target.startswith("//"):
        return None
    if "\\" in target or any(ord(c) < 0x21 or ord(c) == 0x7F for c in target):
        return None
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or parts.path.startswith((API_PREFIX, "/staff/login")):
        return None
    return target


def actor_of(request: Request) -> Actor:
    """The authenticated actor of a request (its route's guard has already required one)."""
    return request.scope["user"]


def is_site_agent(request: Request) -> bool:
    """Whether the request is signed in as a site agent (on a public route, anyone may be)."""
    actor = request.scope.get("user")
    return isinstance(actor, Actor) and actor.role == Role.site_agent


def client_address(connection: ASGIConnection) -> str:
    """The client's address, as the server saw it: behind a reverse proxy, the server must take it
    from the proxy's header (uvicorn's ``--forwarded-allow-ips``, docs/security.md)."""
    return connection.client.host if connection.client else ""


def bearer_token(connection: ASGIConnection) -> str | None:
    """The raw bearer token of the ``Authorization`` header, if any."""
    scheme, _, token = connection.headers.get("authorization", "").partition(" ")
    return token.strip() if scheme.lower() == "bearer" and token.strip() else None


class BearerTokenMiddleware(AbstractAuthenticationMiddleware):
    """Sets ``connection.user`` to the Actor of a valid bearer token or session cookie, else None.

    Anonymous requests pass through: each route's guard decides whether that is allowed.
    """

    async def authenticate_request(self, connection: ASGIConnection) -> AuthenticationResult:
        token = bearer_token(connection)
        actor = None
        if token:
            actor = await authentication.authenticate_token(token)
        elif not connection.scope["path"].startswith(API_PREFIX):
            cookie = connection.cookies.get(sessions.COOKIE_NAME)
            if cookie:
                actor = await sessions.authenticate_session(cookie)
        return AuthenticationResult(user=actor, auth=None)
