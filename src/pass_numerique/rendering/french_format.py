"""French formats of numbers, money, months, days and plurals: the one place every page, PDF and export uses.

Babel (CLDR's ``fr_FR`` data) decides the typography: a narrow no-break space between thousands
(``1 710``), a decimal comma, a no-break space before the euro sign (``8 010,00 €``), month names
in lower case (``novembre 2026``), and French plural rules, where 0 and 1 are singular
(``0 chèque``, ``1 chèque``, ``2 chèques``).

A leaf like the rest of ``rendering``: the web layer hands these functions to its templates, the
PDF and spreadsheet renderers call them directly.
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal

from babel import Locale
from babel.dates import format_date
from babel.numbers import format_currency, format_decimal

LOCALE = Locale("fr", "FR")
MISSING = "–"
"""What a missing figure reads (an en dash), never ``None`` or an empty cell that looks like zero."""

XLSX_DATE_FORMAT = "dd/mm/yyyy"
XLSX_DATETIME_FORMAT = "dd/mm/yyyy hh:mm"
XLSX_EUROS_FORMAT = '#,##0.00 "€"'
"""Excel number formats of the human exports: Excel shows them with the reader's own separators."""


def number(value: int | float | None, decimals: int = 1) -> str:
    """``1 710``, ``12,5`` (floats with ``decimals`` digits); « – » when missing."""
    if value is None:
        return MISSING
    if isinstance(value, float):
        pattern = "#,##0." + "0" * decimals if decimals else "#,##0"
        return format_decimal(value, format=pattern, locale=LOCALE)
    return format_decimal(value, locale=LOCALE)


def euros(cents: int | None) -> str:
    """``8 010,00 €`` from a number of cents; « – » when missing."""
    if cents is None:
        return MISSING
    # Integer division keeps a cent exact where cents / 100 would go through a float.
    whole, rest = divmod(abs(cents), 100)
    amount = Decimal(f"{'-' if cents < 0 else ''}{whole}.{rest:02d}")
    return format_currency(amount, "EUR", locale=LOCALE)


def percent(rate: float | None) -> str:
    """``20,5 %`` from ``0.205``; « – » when missing (no base to divide by)."""
    if rate is None:
        return MISSING
    return f"{number(rate * 100, 1)}\u202f%"


def plural(count: int | None, singular: str, plural_form: str | None = None) -> str:
    """``0 chèque``, ``1 chèque``, ``1 710 chèques``: the count and the noun agreed in French.

    ``plural_form`` defaults to the singular with an ``s``; give it for ``bureau``/``bureaux``.
    """
    if count is None:
        return f"{MISSING} {plural_form or singular + 's'}"
    form = LOCALE.plural_form(abs(count))
    noun = singular if form == "one" else (plural_form or singular + "s")
    return f"{number(count)} {noun}"


def month_label(month: str | date | None) -> str:
    """``novembre 2026`` from ``2026-11`` (a reimbursement month) or from a date."""
    if not month:
        return ""
    if isinstance(month, str):
        month = date(int(month[:4]), int(month[5:7]), 1)
    return format_date(month, "MMMM y", locale=LOCALE)


def month_label_capitalised(month: str | date | None) -> str:
    """``Novembre 2026``: a month at the start of a sentence or a table cell."""
    text = month_label(month)
    return text[:1].upper() + text[1:]


def day(value: date | datetime | None) -> str:
    """``03/12/2026``; empty when missing."""
    return value.strftime("%d/%m/%Y") if value else ""


def day_and_time(value: datetime | None) -> str:
    """``03/12/2026 à 14h05`` (the time as given: the caller converts to local time)."""
    return value.strftime("%d/%m/%Y à %Hh%M") if value else ""
