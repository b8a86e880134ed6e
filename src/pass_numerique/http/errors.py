"""The one place that maps errors to HTTP: a stable machine code and a French message."""

from __future__ import annotations

import logging

import msgspec
from litestar import Request, Response
from litestar.exceptions import (
    ClientException,
    HTTPException,
    NotAuthorizedException,
    NotFoundException,
    PermissionDeniedException,
    ValidationException,
)

from pass_numerique.domain.errors import DomainError

log = logging.getLogger("pass_numerique")


class ErrorBody(msgspec.Struct):
    """Every error answer: ``code`` is stable, ``message`` is for people."""

    code: str
    message: str
    details: dict = {}


def _answer(status: int, code: str, message: str, details: dict | None = None) -> Response:
    return Response(ErrorBody(code=code, message=message, details=details or {}), status_code=status)


def domain_error(_: Request, exc: DomainError) -> Response:
    return _answer(exc.status_code, exc.code, exc.message, exc.details)


def validation_error(_: Request, exc: ValidationException) -> Response:
    # Litestar's extra names the field msgspec refused and why; keep it, in a French envelope.
    return _answer(
        400, "invalid_input", "Requête invalide : vérifiez les champs envoyés.", {"errors": exc.extra or []}
    )


_HTTP_CODES = {
    ClientException: ("invalid_input", "Requête illisible : un corps JSON valide est attendu."),
    NotAuthorizedException: ("not_authenticated", "Connexion requise."),
    PermissionDeniedException: ("forbidden", "Vous n'avez pas les droits pour cette action."),
    NotFoundException: ("not_found", "Page ou élément introuvable."),
}


def http_error(_: Request, exc: HTTPException) -> Response:
    code, message = _HTTP_CODES.get(type(exc), ("http_error", str(exc.detail)))
    return _answer(exc.status_code, code, message)


def internal_error(request: Request, exc: Exception) -> Response:
    # Logged with the path only: bodies may hold codes or references.
    log.exception("internal error on %s %s", request.method, request.url.path)
    return _answer(500, "internal_error", "Erreur interne : réessayez ou contactez le support.")


EXCEPTION_HANDLERS = {
    DomainError: domain_error,
    ValidationException: validation_error,
    HTTPException: http_error,
    Exception: internal_error,
}
