"""Who is calling: a bearer token (API) or a session cookie (staff pages) resolves to an Actor, or to nobody.

The JSON API under ``/api/`` only ever reads the bearer token and ignores the session
cookie: a browser attaches cookies to cross-site requests by itself, never an
``Authorization`` header, so a forged request to the API from another site is anonymous.
The pages, which do read the cookie, are protected by the CSRF middleware
(docs/staff-app.md).
"""

from __future__ import annotations

from litestar import Request
from litestar.connection import ASGIConnection
from litestar.middleware import AbstractAuthenticationMiddleware, AuthenticationResult

from pass_numerique.domain.accounts import authentication, sessions
from pass_numerique.domain.actors import Actor

API_PREFIX = "/api/"


def actor_of(request: Request) -> Actor:
    """The authenticated actor of a request (its route's guard has already required one)."""
    return request.scope["user"]


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
