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


class BearerTokenMiddleware(AbstractAuthenticationMiddleware):
    """Sets ``connection.user`` to the Actor of a valid bearer token or session cookie, else None.

    Anonymous requests pass through: each route's guard decides whether that is allowed.
    """

    async def authenticate_request(self, connection: ASGIConnection) -> AuthenticationResult:
        header = connection.headers.get("authorization", "")
        scheme, _, token = header.partition(" ")
        actor = None
        if scheme.lower() == "bearer" and token:
            actor = await authentication.authenticate_token(token.strip())
        elif not connection.scope["path"].startswith(API_PREFIX):
            cookie = connection.cookies.get(sessions.COOKIE_NAME)
            if cookie:
                actor = await sessions.authenticate_session(cookie)
        return AuthenticationResult(user=actor, auth=None)
