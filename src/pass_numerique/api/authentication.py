"""Who is calling: a bearer token (API) resolves to an Actor, or to nobody."""

from __future__ import annotations

from litestar import Request
from litestar.connection import ASGIConnection
from litestar.middleware import AbstractAuthenticationMiddleware, AuthenticationResult

from pass_numerique.domain import accounts
from pass_numerique.domain.actors import Actor


def actor_of(request: Request) -> Actor:
    """The authenticated actor of a request (its route's guard has already required one)."""
    return request.scope["user"]


class BearerTokenMiddleware(AbstractAuthenticationMiddleware):
    """Sets ``connection.user`` to the Actor of a valid bearer token, else None.

    Anonymous requests pass through: each route's guard decides whether that is allowed.
    """

    async def authenticate_request(self, connection: ASGIConnection) -> AuthenticationResult:
        header = connection.headers.get("authorization", "")
        scheme, _, token = header.partition(" ")
        actor = None
        if scheme.lower() == "bearer" and token:
            actor = await accounts.authenticate_token(token.strip())
        return AuthenticationResult(user=actor, auth=None)
