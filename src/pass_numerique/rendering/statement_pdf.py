"""A partner site's reimbursement statement as a one-document A4 PDF (fpdf2, DejaVu fonts embedded).

A leaf: it is given a ``StatementDocument`` (``domain/reimbursement/statement_files.py`` makes one
from a statement), with its times already in local time.
"""

from __future__ import annotations

from datetime import datetime

import msgspec
from fpdf import FPDF

from pass_numerique.rendering.booklet_pdf import FONTS_DIR
from pass_numerique.rendering.spreadsheets import euros, french_text


class StatementLinePrint(msgspec.Struct, frozen=True, kw_only=True):
    redeemed_at: datetime
    """Local time."""
    booklet_serial: str
    voucher_number: int
    theme: str
    face_value_cents: int


class StatementDocument(msgspec.Struct, frozen=True, kw_only=True):
    """What the statement prints: the site, the month and its state, the lines and the total."""

    site_name: str
    siret: str | None
    month: str
    """``AAAA-MM``."""
    closed: bool
    voucher_count: int
    total_cents: int
    paid_at: datetime | None
    """Local time; None while unpaid."""
    payment_reference: str
    lines: list[StatementLinePrint]


def _amount(cents: int) -> str:
    return f"{french_text(euros(cents))} €"


def render_statement(statement: StatementDocument) -> bytes:
    """The statement as one A4 document: heading, one line per voucher, the total."""
    pdf = FPDF(orientation="P", unit="mm", format="A4")
    pdf.set_auto_page_break(auto=True, margin=15)
    pdf.add_font("sans", "", str(FONTS_DIR / "DejaVuSans.ttf"))
    pdf.add_font("sans", "B", str(FONTS_DIR / "DejaVuSans-Bold.ttf"))
    pdf.add_page()
    pdf.set_font("sans", "B", 15)
    pdf.cell(0, 9, "Pass numérique : relevé de remboursement", new_x="LMARGIN", new_y="NEXT")
    pdf.set_font("sans", "", 11)
    status = "clôturée" if statement.closed else "ouverte (relevé provisoire)"
    for text in (
        f"Lieu : {statement.site_name}" + (f" (SIRET {statement.siret})" if statement.siret else ""),
        f"Période : {statement.month} ({status})",
        f"Chèques : {statement.voucher_count}  ·  Total dû : {_amount(statement.total_cents)}",
    ):
        pdf.cell(0, 7, text, new_x="LMARGIN", new_y="NEXT")
    if statement.paid_at is not None:
        pdf.cell(
            0,
            7,
            f"Payé le {french_text(statement.paid_at)}, référence {statement.payment_reference}",
            new_x="LMARGIN",
            new_y="NEXT",
        )
    pdf.ln(3)
    widths = (38, 38, 18, 66, 24)
    pdf.set_font("sans", "B", 9)
    for width, title in zip(widths, ("Date", "Carnet", "N°", "Thématique", "Valeur"), strict=True):
        pdf.cell(width, 7, title, border="B")
    pdf.ln()
    pdf.set_font("sans", "", 9)
    for line in statement.lines:
        cells = (
            french_text(line.redeemed_at),
            line.booklet_serial,
            str(line.voucher_number),
            line.theme[:40],
            _amount(line.face_value_cents),
        )
        for width, text in zip(widths, cells, strict=True):
            pdf.cell(width, 6, text)
        pdf.ln()
    pdf.set_font("sans", "B", 10)
    pdf.cell(sum(widths[:4]), 8, "Total", border="T")
    pdf.cell(widths[4], 8, _amount(statement.total_cents), border="T")
    return bytes(pdf.output())
