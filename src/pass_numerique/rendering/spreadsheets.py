"""Spreadsheets from plain tables: CSV for French Excel, XLSX (openpyxl).

CSV is UTF-8 with a byte-order mark and ``;`` separators, euros with a decimal
comma (``12,50``), dates ``JJ/MM/AAAA``: what French Excel opens without a wizard.
The XLSX keeps numbers as numbers (euros formatted ``#,##0.00 €``) and dates as real date
cells shown ``jj/mm/aaaa`` (``french_format.XLSX_DATE_FORMAT``), yes/no as ``oui``/``non``,
and each column as wide as its longest value.

A leaf: it is given ``Table``s whose headers are already in French and whose cells are typed
values. Which figures fill them is decided by the context that owns the data
(``domain/reports/export_tables.py``, ``domain/reimbursement/statement_files.py``).
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Sequence
from datetime import date, datetime
from decimal import Decimal

import msgspec

from pass_numerique.rendering.french_format import XLSX_DATE_FORMAT, XLSX_DATETIME_FORMAT, XLSX_EUROS_FORMAT

_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
_SIGNED_NUMBER = re.compile(r"[+-]\d+(?:[.,]\d+)?")


class Euros(Decimal):
    """A money amount: decimal comma in CSV, euro format in XLSX."""


Cell = str | int | float | Decimal | date | datetime | bool | None
"""A typed cell. ``Euros`` (a Decimal) is money; a datetime is written as it is, in its own zone:
the caller gives local time. None is an empty cell."""


class Table(msgspec.Struct, kw_only=True):
    name: str
    """Sheet name and CSV file stem."""
    header: list[str]
    rows: list[list[Cell]]


def euros(cents: int) -> Euros:
    return Euros(Decimal(cents) / 100)


def french_text(value: Cell) -> str:
    """A cell as French Excel reads it in a CSV file (and as the statement PDF prints it)."""
    if value is None:
        return ""
    if isinstance(value, Euros | Decimal):
        return f"{value:.2f}".replace(".", ",")
    if isinstance(value, float):
        return f"{value}".replace(".", ",")
    if isinstance(value, datetime):
        return value.strftime("%d/%m/%Y %H:%M")
    if isinstance(value, date):
        return value.strftime("%d/%m/%Y")
    if isinstance(value, bool):
        return "oui" if value else "non"
    return neutralise_formula(str(value))


def neutralise_formula(text: str) -> str:
    """A text cell that a spreadsheet will not run as a formula (CSV injection): every CSV we write.

    A cell starting with ``=``, ``+``, ``-``, ``@``, a tab or a carriage return is prefixed with
    ``'``, as OWASP advises, except a plain signed number (``+33180059880``, ``-1.5``): a
    spreadsheet reads it as a number, and the national sites standard requires phone numbers
    written ``+33…``.
    """
    if text[:1] in _FORMULA_START and not _SIGNED_NUMBER.fullmatch(text):
        return "'" + text
    return text


def to_csv(table: Table) -> bytes:
    """UTF-8 with BOM, ``;`` separator, CRLF line ends."""
    out = io.StringIO()
    writer = csv.writer(out, delimiter=";", lineterminator="\r\n")
    writer.writerow(table.header)
    writer.writerows([french_text(v) for v in row] for row in table.rows)
    return ("\ufeff" + out.getvalue()).encode("utf-8")


_MIN_WIDTH, _MAX_WIDTH = 8, 60


def to_xlsx(tables: Sequence[Table]) -> bytes:
    """One sheet per table, header in bold, euros as numbers with a euro format, dates as dates."""
    from openpyxl import Workbook
    from openpyxl.styles import Font

    book = Workbook()
    book.remove(book.active)
    for table in tables:
        sheet = book.create_sheet(title=table.name[:31])
        sheet.append(table.header)
        for cell in sheet[1]:
            cell.font = Font(bold=True)
        for row in table.rows:
            values = []
            for value in row:
                if isinstance(value, bool):
                    value = french_text(value)
                elif isinstance(value, Decimal):
                    value = float(value)
                elif isinstance(value, datetime):
                    value = value.replace(tzinfo=None)  # openpyxl refuses zones: the local time as shown
                values.append(value)
            sheet.append(values)
            for index, value in enumerate(row):
                cell = sheet.cell(row=sheet.max_row, column=index + 1)
                if isinstance(value, Euros):
                    cell.number_format = XLSX_EUROS_FORMAT
                elif isinstance(value, datetime):
                    cell.number_format = XLSX_DATETIME_FORMAT
                elif isinstance(value, date):
                    cell.number_format = XLSX_DATE_FORMAT
                elif isinstance(value, str) and value.startswith("="):
                    cell.data_type = "s"  # openpyxl would store it as a formula
        # Each column as wide as its longest value as shown (the header included), within bounds.
        for index, title in enumerate(table.header):
            longest = max(
                [len(title), *(len(french_text(row[index])) for row in table.rows if index < len(row))]
            )
            letter = sheet.cell(row=1, column=index + 1).column_letter
            sheet.column_dimensions[letter].width = min(_MAX_WIDTH, max(_MIN_WIDTH, longest + 2))
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()
