"""Path and query parameters with the bounds of ``domain/bounds.py``, for the API and the pages.

Litestar enforces (and documents) a parameter's bounds only when they come as ``Parameter(...)``:
msgspec's ``Meta`` on a parameter is ignored. These aliases carry the same numbers as the structs'
fields, so an id past PostgreSQL's ``integer`` or a NUL character in a path is refused with
``invalid_input`` (422) before any query, on both engines.
"""

from __future__ import annotations

from typing import Annotated, Any

from litestar.params import Parameter

from pass_numerique.domain import bounds


def text_parameter(max_length: int, *, optional: bool = False) -> Any:
    """A text parameter of at most ``max_length`` characters, none of them NUL."""
    kind = str | None if optional else str
    return Annotated[kind, Parameter(max_length=max_length, pattern=bounds.NO_NUL)]


IdParameter = Annotated[int, Parameter(ge=1, le=bounds.MAX_INT)]
OptionalId = Annotated[int | None, Parameter(ge=1, le=bounds.MAX_INT)]
Offset = Annotated[int, Parameter(ge=0, le=bounds.MAX_INT)]
Limit = Annotated[int, Parameter(ge=1, le=500)]
OptionalLimit = Annotated[int | None, Parameter(ge=1, le=bounds.MAX_INT)]
PageNumber = Annotated[int, Parameter(ge=1, le=bounds.MAX_INT)]
SerialParameter = text_parameter(bounds.SERIAL_LENGTH)
PublicIdParameter = text_parameter(bounds.PUBLIC_ID_LENGTH)
MonthParameter = text_parameter(bounds.MONTH_LENGTH)
CodeParameter = text_parameter(bounds.CODE_LENGTH)
OptionalMonth = text_parameter(bounds.MONTH_LENGTH, optional=True)
OptionalValue = text_parameter(bounds.VALUE_LENGTH, optional=True)
OptionalShortField = text_parameter(bounds.SHORT_FIELD_LENGTH, optional=True)
OptionalSearch = text_parameter(bounds.NAME_LENGTH, optional=True)
"""A list's search box or filter (a name, an e-mail, a role…)."""
Filename = text_parameter(bounds.FILENAME_LENGTH)
ValueParameter = text_parameter(bounds.VALUE_LENGTH)
ScannedParameter = text_parameter(bounds.SCANNED_LENGTH)
