"""The one place that turns errors into HTTP answers: each refusal's status, and its shape.

A ``DomainError`` carries a code; ``STATUS_BY_CODE`` gives its HTTP status, the same wherever it
is raised. Two renderings share that status: JSON ``{code, message, details}`` for the API under
``/api/`` (``API_EXCEPTION_HANDLERS``, the application's), and a French HTML page for the pages
(``page_exception_handlers``, declared by the staff, public and scanner-shell controllers), where
a sign-in wall redirects to the login page instead. A page that shows a refused form again with
the message next to its field answers ``status_of(exc)``.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from urllib.parse import quote, urlsplit

import msgspec
from litestar import Request, Response
from litestar.exceptions import (
    ClientException,
    HTTPException,
    MethodNotAllowedException,
    NotAuthorizedException,
    NotFoundException,
    PermissionDeniedException,
    ValidationException,
)
from litestar.exceptions.http_exceptions import RequestEntityTooLarge
from litestar.response import Redirect
from litestar.types import ExceptionHandlersMap

from pass_numerique.domain.accounts import sessions
from pass_numerique.domain.errors import DomainError
from pass_numerique.http.authentication import API_PREFIX, local_path

log = logging.getLogger("pass_numerique")

# code -> HTTP status; any other code is a plain refusal (DEFAULT_STATUS).
STATUS_BY_CODE: dict[str, int] = {
    "unknown_code": 404,
    "invalid_checksum": 422,
    "invalid_code_format": 422,
    "already_redeemed": 409,
    "cancelled": 409,
    "expired": 409,
    "not_yet_valid": 409,
    "not_issued": 409,
    "site_not_accredited": 403,
    "forbidden": 403,
    "not_authenticated": 401,
    "invalid_credentials": 401,
    "too_many_attempts": 429,
    "request_id_reused": 422,
    "password_change_required": 403,
    "not_found": 404,
    "invalid_input": 422,
    "invalid_theme": 422,
    "duplicate": 409,
    "duplicate_voucher": 422,
    "different_booklets": 422,
    "invalid_state": 409,
    "undo_window_passed": 409,
    "period_closed": 409,
    "request_in_progress": 409,
    "not_enough_stock": 409,
    "booklet_expired": 409,
    "nothing_to_replace": 409,
    "beneficiary_has_valid_booklet": 409,
    "redeemed_before_issue": 409,
    "wrong_territory": 409,
    "method_not_allowed": 405,
    "body_too_large": 413,
}
DEFAULT_STATUS = 400


def status_of(exc: DomainError) -> int:
    """The HTTP status of a refusal: the same for the JSON API, the pages and the stored replays."""
    return STATUS_BY_CODE.get(exc.code, DEFAULT_STATUS)


def headers_of(exc: DomainError) -> dict[str, str]:
    """The headers a refusal's answer carries: ``Retry-After`` (seconds) when the domain says how
    long to wait (``too_many_attempts``), for the JSON API and the pages alike."""
    retry_after = exc.details.get("retry_after")
    return {"Retry-After": str(int(retry_after))} if isinstance(retry_after, int) else {}


# ---------------------------------------------------------------------------
# JSON, for the API


class ErrorBody(msgspec.Struct):
    """Every error answer: ``code`` is stable, ``message`` is for people."""

    code: str
    message: str
    details: dict = {}


def _answer(
    status: int, code: str, message: str, details: dict | None = None, headers: dict[str, str] | None = None
) -> Response:
    return Response(
        ErrorBody(code=code, message=message, details=details or {}), status_code=status, headers=headers
    )


def _domain_error(_: Request, exc: DomainError) -> Response:
    return _answer(status_of(exc), exc.code, exc.message, exc.details, headers_of(exc))


INVALID_REQUEST = "Requête invalide : vérifiez les champs envoyés."


def validation_details(exc: ValidationException) -> dict:
    """The refused field (``field``, as the domain's refusals name it) and msgspec's reasons.

    Litestar's ``extra`` lists ``{message, key, source}`` per refused value: ``key`` is the field
    (``codes[0]`` for an item of a list), ``source`` body, path or query.
    """
    errors = exc.extra if isinstance(exc.extra, list) else []
    field = next((e.get("key") for e in errors if isinstance(e, dict) and e.get("key")), None)
    return {"field": field, "errors": errors} if field else {"errors": errors}


def _validation_error(_: Request, exc: ValidationException) -> Response:
    # A value refused when the request was decoded: the same code and status as the domain's
    # own invalid_input, so a client handles one answer for a refused value.
    return _answer(STATUS_BY_CODE["invalid_input"], "invalid_input", INVALID_REQUEST, validation_details(exc))


_HTTP_CODES = {
    ClientException: ("invalid_input", "Requête illisible : un corps JSON valide est attendu."),
    NotAuthorizedException: ("not_authenticated", "Connexion requise."),
    PermissionDeniedException: ("forbidden", "Vous n'avez pas les droits pour cette action."),
    NotFoundException: ("not_found", "Page ou élément introuvable."),
    MethodNotAllowedException: (
        "method_not_allowed",
        "Cette adresse ne prend pas cette méthode : voyez la documentation de l'API (/schema/swagger).",
    ),
    RequestEntityTooLarge: (
        "body_too_large",
        "Requête trop volumineuse : envoyez moins de données à la fois.",
    ),
}


def _http_error(_: Request, exc: HTTPException) -> Response:
    code, message = _HTTP_CODES.get(type(exc), ("http_error", str(exc.detail)))
    # An unreadable body is invalid input too: one code, one status.
    status = (
        STATUS_BY_CODE[code]
        if code in ("invalid_input", "method_not_allowed", "body_too_large")
        else exc.status_code
    )
    return _answer(status, code, message)


def _too_deep(request: Request, _: RecursionError) -> Response:
    # A JSON body nested deeper than Python's recursion limit ("[[[[…") makes msgspec raise
    # RecursionError, which Litestar lets through: an unreadable body, refused like any other.
    return _http_error(request, ClientException())


def _internal_error(request: Request, exc: Exception) -> Response:
    _log_internal_error(request)
    return _answer(500, "internal_error", "Erreur interne : réessayez ou contactez le support.")


def _log_internal_error(request: Request) -> None:
    # Logged with the route's template only: bodies may hold codes or references, and a path
    # its values (the voucher token of /v/{token}).
    log.exception("internal error on %s %s", request.method, request.scope.get("path_template", "?"))


API_EXCEPTION_HANDLERS: ExceptionHandlersMap = {
    DomainError: _domain_error,
    ValidationException: _validation_error,
    HTTPException: _http_error,
    RecursionError: _too_deep,
    Exception: _internal_error,
}
"""The application's handlers: the JSON API's, and any request no page controller answers."""


# ---------------------------------------------------------------------------
# HTML, for the pages

ErrorPage = Callable[[Request, int, str, str], Response]
"""Renders the French error page in the pages' layout: (request, status, title, message)."""

PAGE_TITLES = {404: "Introuvable", 403: "Accès refusé", 409: "Action impossible"}
SESSION_EXPIRED = "expiree"
"""``?session=expiree`` on the login page: the browser still held a session cookie that no longer works."""
CSRF_REFUSED = (
    "Le formulaire a expiré ou ne vient pas de ce site. Rechargez la page et recommencez : "
    "rien n'a été enregistré."
)


def page_exception_handlers(
    error_page: ErrorPage, *, login_url: str, home_url: str, password_url: str | None = None
) -> ExceptionHandlersMap:
    """The pages' handlers: every error as an HTML page with the status the API would give,
    except a sign-in wall, which sends the browser to ``login_url`` and back (``?suite=``), and a
    temporary password not yet replaced, which sends it to ``password_url``."""

    def wants_login(request: Request, _: NotAuthorizedException) -> Response:
        # Back to the page after signing in. A refused POST cannot be replayed: back to the form
        # it came from (its Referer, when that is one of our pages), else home.
        if request.method == "GET":
            target = local_path(request.url.path + (f"?{request.url.query}" if request.url.query else ""))
        else:
            target = _referring_page(request)
        query = f"suite={quote(target or home_url, safe='/')}"
        if request.cookies.get(sessions.COOKIE_NAME):  # a cookie was sent, and no longer works
            query += f"&session={SESSION_EXPIRED}"
        return Redirect(f"{login_url}?{query}", status_code=303, headers={"Cache-Control": "no-store"})

    def forbidden(request: Request, exc: PermissionDeniedException) -> Response:
        if "CSRF" in str(exc.detail):
            return error_page(request, 403, "Formulaire refusé", CSRF_REFUSED)
        return error_page(request, 403, "Accès refusé", "Vous n'avez pas les droits pour cette page.")

    def invalid(request: Request, _: ValidationException | RecursionError) -> Response:
        return error_page(
            request,
            STATUS_BY_CODE["invalid_input"],
            "Requête refusée",
            "Une valeur de l'adresse ou du formulaire est invalide (trop longue, hors limites ou avec "
            "un caractère interdit).",
        )

    def http_error(request: Request, exc: HTTPException) -> Response:
        if isinstance(exc, NotFoundException):
            return error_page(request, 404, "Page introuvable", "Cette page ou cet élément n'existe pas.")
        if isinstance(exc, MethodNotAllowedException):
            return error_page(
                request,
                405,
                "Action non prévue",
                "Cette adresse ne s'ouvre pas de cette façon : passez par le menu.",
            )
        return error_page(request, exc.status_code, "Requête refusée", "La requête n'a pas pu être traitée.")

    def domain_error(request: Request, exc: DomainError) -> Response:
        if exc.code == "password_change_required" and password_url:
            return Redirect(
                f"{password_url}?fait=must_change", status_code=303, headers={"Cache-Control": "no-store"}
            )
        status = status_of(exc)
        response = error_page(request, status, PAGE_TITLES.get(status, "Requête refusée"), exc.message)
        response.headers.update(headers_of(exc))
        return response

    def internal_error(request: Request, _: Exception) -> Response:
        _log_internal_error(request)
        return error_page(
            request, 500, "Erreur interne", "Erreur interne : réessayez ou contactez le support."
        )

    # The same keys as the application's map: a page's error never falls through to the JSON one.
    return {
        NotAuthorizedException: wants_login,
        PermissionDeniedException: forbidden,
        DomainError: domain_error,
        ValidationException: invalid,
        HTTPException: http_error,
        RecursionError: invalid,  # a body nested too deep to decode, as _too_deep
        Exception: internal_error,
    }


def _referring_page(request: Request) -> str | None:
    """The page a form was posted from, when the browser said so and it is one of ours."""
    referer = urlsplit(request.headers.get("referer", ""))
    if referer.netloc and referer.netloc != request.url.netloc:
        return None
    return local_path(referer.path + (f"?{referer.query}" if referer.query else ""))


JSON_ERRORS = "json_errors"
"""A route handler's ``opt`` key: its refusals are JSON even outside ``/api/`` (read by a script)."""


def answers_json(request: Request) -> bool:
    """Whether a refusal of this request is JSON (the API, or a route read by a script) or a page."""
    route_handler = request.scope.get("route_handler")  # none for an unknown URL
    return request.url.path.startswith(API_PREFIX) or bool(
        route_handler and route_handler.opt.get(JSON_ERRORS)
    )


def application_exception_handlers(page_handlers: ExceptionHandlersMap) -> ExceptionHandlersMap:
    """The application's handlers, for what no controller answers (an unknown URL, a method a
    route does not take): JSON under ``/api/``, the pages' French HTML everywhere else."""

    def by_path(exc_type: type[Exception]) -> Callable[[Request, Exception], Response]:
        pages = page_handlers[exc_type]
        # The API's handler of the nearest class it knows (a 401 or 403 is an HTTPException there).
        api = next(API_EXCEPTION_HANDLERS[c] for c in exc_type.__mro__ if c in API_EXCEPTION_HANDLERS)

        def handler(request: Request, exc: Exception) -> Response:
            return (api if answers_json(request) else pages)(request, exc)  # type: ignore[operator]

        return handler

    return {exc_type: by_path(exc_type) for exc_type in page_handlers}
