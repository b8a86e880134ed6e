"""The refusals each API operation documents in the OpenAPI schema, all with the one error body.

Litestar documents only what a handler declares (``responses``) and, for a handler with input, a
400 in its own ``{status_code, detail, extra}`` shape, which the application never sends: its
errors are ``ErrorBody`` (``http/errors.py``). ``document_errors`` gives every API handler the
statuses it can answer, from what it declares:

- 401 and 403 when it is guarded (not ``guards.public``): signed out, or without the role or scope;
- 400, 404 and 422 when it takes input (path, query or body): a refused value (``invalid_input``),
  an id that designates nothing, a code the error map does not list (400);
- 409 when it changes something (not GET): the state forbids it, a duplicate, a closed period;
- anything else the handler declares itself, e.g. ``responses=error_responses(429)`` on sign-in and
  on the routes that count a scanner's attempts (look-up, redemption, offline upload).

A download in several formats declares them with ``operation_class=download_operation(...)``: Litestar
would document its bytes as one JSON string.

``tests/test_openapi.py`` holds the application to its schema with schemathesis.
"""

from __future__ import annotations

import inspect
from collections.abc import Iterable
from dataclasses import dataclass

from litestar import Controller
from litestar.handlers import HTTPRouteHandler
from litestar.openapi import ResponseSpec
from litestar.openapi.spec import (
    OpenAPIFormat,
    OpenAPIMediaType,
    OpenAPIResponse,
    OpenAPIType,
    Operation,
    Schema,
)

from pass_numerique.http import guards
from pass_numerique.http.downloads import MEDIA_TYPES
from pass_numerique.http.errors import ErrorBody

DESCRIPTIONS = {
    400: "Refused with a code the error map gives no status of its own.",
    401: "Not signed in (``not_authenticated``), or a wrong e-mail or password.",
    403: "Signed in without the role or the scope this needs (``forbidden``…).",
    404: "What an id, serial or code designates does not exist or is out of your scope.",
    409: "The current state forbids it (``invalid_state``, ``duplicate``, ``period_closed``…).",
    422: "A refused value (``invalid_input`` with ``details.field``, or a rule of the scheme).",
    429: "Too many attempts (``too_many_attempts``): wait before trying again.",
}
_NOT_INPUT = {"self", "request"}


def error_responses(*statuses: int) -> dict[int, ResponseSpec]:
    """``ErrorBody`` answers for ``statuses``, as a route handler's ``responses``."""
    return {
        status: ResponseSpec(
            data_container=ErrorBody, description=DESCRIPTIONS[status], generate_examples=False
        )
        for status in statuses
    }


def statuses_of(handler: HTTPRouteHandler) -> set[int]:
    """The refusals ``handler`` can answer, from its guards, its input and its method."""
    statuses: set[int] = set()
    guarded = guards.public not in (handler.guards or [])
    if guarded:
        statuses |= {401, 403}
    takes_input = any(name not in _NOT_INPUT for name in inspect.signature(handler.fn).parameters)
    if takes_input or any("{" in path for path in handler.paths):
        statuses |= {400, 404, 422}
    if guarded and handler.http_methods - {"GET", "HEAD"}:
        statuses.add(409)
    return statuses


def document_errors(controllers: Iterable[type[Controller]]) -> None:
    """Give each API handler of ``controllers`` its refusals (``statuses_of``), keeping what it declares.

    Runs before the application registers the handlers (it copies them); running again changes nothing.
    """
    for controller in controllers:
        for handler in vars(controller).values():
            if isinstance(handler, HTTPRouteHandler):
                declared = handler.responses or {}
                handler.responses = {**error_responses(*sorted(statuses_of(handler))), **declared}


BINARY = Schema(type=OpenAPIType.STRING, format=OpenAPIFormat.BINARY)
TEXT = Schema(type=OpenAPIType.STRING)
RECORDS = Schema(type=OpenAPIType.ARRAY, items=Schema(type=OpenAPIType.OBJECT, additional_properties=TEXT))
"""Rows as JSON objects of text values (the sites in the national standard)."""


def download_operation(**formats: Schema) -> type[Operation]:
    """An operation whose success is a file in one of ``formats`` (``csv``, ``xlsx``, ``pdf``, ``json``
    of ``http/downloads.MEDIA_TYPES``), each with its media type and schema."""

    @dataclass
    class Download(Operation):
        def __post_init__(self) -> None:
            for status, response in (self.responses or {}).items():
                if status.startswith("2") and isinstance(response, OpenAPIResponse):
                    response.content = {
                        MEDIA_TYPES[name]: OpenAPIMediaType(schema=schema) for name, schema in formats.items()
                    }

    return Download
