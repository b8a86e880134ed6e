"""The bounds of every input, in one place: ids, numbers, text lengths, codes, list sizes.

Each input struct types its fields with these (``Annotated`` msgspec constraints), so a value the
database could not store is refused when the request is decoded, with the same ``invalid_input``
(422) on SQLite and PostgreSQL, before any query runs. ``http/parameters.py`` gives path and query
parameters the same bounds; ``checked`` holds a struct built in Python (a page's form, a CSV line)
to them. docs/security.md "Input limits" lists them.

Why these numbers: ids and counts are PostgreSQL ``integer`` columns (past 2**31 - 1 PostgreSQL
refuses them, past 2**63 SQLite does); text lengths are their columns' (``domain/tables.py``);
PostgreSQL text cannot hold the NUL character, so no string may carry one.
"""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any, TypeVar

import msgspec

from pass_numerique.domain.errors import DomainError

MAX_INT = 2**31 - 1
"""The largest id, count or offset: PostgreSQL's ``integer`` (``serial`` ids are one)."""
NO_NUL = "^[^\x00]*$"
"""Every string: PostgreSQL cannot store the NUL character."""

# Text lengths, from their columns.
CODE_LENGTH = 20  # territory code
NAME_LENGTH = 200  # territory, programme, site, structure, person
ADDRESS_LENGTH = 300
LABEL_LENGTH = 100  # a token's label, a payment reference, an external reference
REASON_LENGTH = 200  # why a booklet is cancelled, a redemption undone
EMAIL_LENGTH = 254
PASSWORD_LENGTH = 1024  # hashed, never stored as typed; long enough for any passphrase
SCANNED_LENGTH = 500  # a voucher's QR URL, bare token or short code, as scanned or typed
REQUEST_ID_LENGTH = 64
SERIAL_LENGTH = 32
PUBLIC_ID_LENGTH = 16  # a beneficiary's pseudonymous id
MONTH_LENGTH = 7  # YYYY-MM
VALUE_LENGTH = 60  # a value of a national list (theme, age band, need…) or a kind
SHORT_FIELD_LENGTH = 40  # a phone number, an audit object type or id
LONG_TEXT_LENGTH = 2000  # free text in a text column (opening hours)
FILENAME_LENGTH = 255
COMMUNE_LENGTH = 120
EXTERNAL_ID_LENGTH = 120  # a site's id in the national standard
MAX_LIST = 100  # values of a list field (themes, needs, funders, territories)
MAX_SERIALS = 10_000  # booklets allocated by serial in one request: a whole print run
FIRST_DAY = date(2000, 1, 1)
LAST_DAY = date(2199, 12, 31)
"""The days a filter or a validity may name: a month or a validity added to one stays a date."""


def text(max_length: int, *, min_length: int = 0) -> Any:
    """A string of at most ``max_length`` characters, none of them NUL."""
    return Annotated[str, msgspec.Meta(min_length=min_length, max_length=max_length, pattern=NO_NUL)]


Id = Annotated[int, msgspec.Meta(ge=1, le=MAX_INT)]
Count = Annotated[int, msgspec.Meta(ge=0, le=MAX_INT)]
"""A quantity or a number of cents: the domain checks its business range."""
Code = text(CODE_LENGTH)
Name = text(NAME_LENGTH)
Address = text(ADDRESS_LENGTH)
Label = text(LABEL_LENGTH)
Reason = text(REASON_LENGTH)
Email = text(EMAIL_LENGTH)
Password = text(PASSWORD_LENGTH)
Scanned = text(SCANNED_LENGTH)
RequestId = text(REQUEST_ID_LENGTH)
Serial = text(SERIAL_LENGTH, min_length=1)
PublicId = text(PUBLIC_ID_LENGTH)
Month = text(MONTH_LENGTH)
Value = text(VALUE_LENGTH)
ShortField = text(SHORT_FIELD_LENGTH)
LongText = text(LONG_TEXT_LENGTH)
Commune = text(COMMUNE_LENGTH)
Insee = text(5)  # a commune's INSEE code, a postal code
Siret = text(14)
Values = Annotated[list[Value], msgspec.Meta(max_length=MAX_LIST)]
Names = Annotated[list[Name], msgspec.Meta(max_length=MAX_LIST)]
Ids = Annotated[list[Id], msgspec.Meta(max_length=MAX_LIST)]

S = TypeVar("S", bound=msgspec.Struct)

INVALID_MESSAGE = "Valeur refusée : vide, trop longue, hors limites ou avec un caractère interdit."


def checked(value: S) -> S:
    """``value`` held to its struct's bounds, as if it had been decoded from a request.

    A struct built in Python (from a page's form, a CSV line) skips the checks of decoding;
    this refuses what decoding would with ``invalid_input`` and the field it names.
    """
    try:
        return msgspec.convert(msgspec.to_builtins(value), type(value))
    except msgspec.ValidationError as exc:
        raise DomainError("invalid_input", INVALID_MESSAGE, field=field_of(exc)) from None


def field_of(exc: msgspec.ValidationError) -> str | None:
    """The field msgspec names in its message (``… - at `$.serials[3]` ``), as a form names it
    (``serials``): without the ``$.`` and the item's index."""
    message = str(exc)
    if " - at `$." not in message:
        return None
    return message.rsplit(" - at `$.", 1)[1].rstrip("`").split("[", 1)[0]


def check_day(value: date | None, field: str) -> None:
    """Refuse a day outside ``FIRST_DAY``..``LAST_DAY`` (msgspec cannot bound a date in a type)."""
    if value is not None and not FIRST_DAY <= value <= LAST_DAY:
        raise DomainError(
            "invalid_input",
            f"Date hors limites : entre le {FIRST_DAY:%d/%m/%Y} et le {LAST_DAY:%d/%m/%Y}.",
            field=field,
        )
