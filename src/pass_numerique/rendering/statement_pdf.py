"""A partner site's reimbursement statement as a one-document A4 PDF (fpdf2, DejaVu fonts embedded).

A leaf: it is given a ``StatementDocument`` (``domain/reimbursement/statement_files.py`` makes one
from a statement), with its times already in local time, its themes, month and state in French.
"""

from __future__ import annotations

from datetime import datetime

import msgspec
from fpdf import FPDF

from pass_numerique.rendering.booklet_pdf import FONTS_DIR
from pass_numerique.rendering.french_format import day, day_and_time, euros, plural


class StatementLinePrint(msgspec.Struct, frozen=True, kw_only=True):
    redeemed_at: datetime
    """Local time."""
    booklet_serial: str
    voucher_number: int
    theme: str
    """The theme's national label."""
    face_value_cents: int


class PartyPrint(msgspec.Struct, frozen=True, kw_only=True):
    """Who is owed (the site) or who pays (the département): name, SIRET if known, address."""

    name: str
    siret: str | None
    address: str


class StatementDocument(msgspec.Struct, frozen=True, kw_only=True):
    """What the statement prints: the site and the payer, the month and its state, the lines, the total."""

    site: PartyPrint
    payer: PartyPrint
    month: str
    """In words: ``novembre 2026``."""
    state: str
    """In words: ``Ouvert``, ``Clôturé, à payer``, ``Payé``."""
    closed: bool
    voucher_count: int
    total_cents: int
    paid_at: datetime | None
    """Local time; None while unpaid."""
    payment_reference: str
    lines: list[StatementLinePrint]


def _shorten(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _party(pdf: FPDF, title: str, party: PartyPrint, x: float, width: float) -> None:
    pdf.set_xy(x, pdf.get_y())
    pdf.set_font("sans", "B", 9)
    pdf.cell(width, 5, title, new_x="LEFT", new_y="NEXT")
    pdf.set_font("sans", "", 10)
    lines = [party.name]
    if party.siret:
        lines.append(f"SIRET {party.siret}")
    if party.address:
        lines.append(party.address)
    for line in lines:
        pdf.multi_cell(width, 5, line, new_x="LEFT", new_y="NEXT")


def render_statement(statement: StatementDocument) -> bytes:
    """The statement on A4: who is owed and who pays, the month, one line per voucher, the total."""
    pdf = FPDF(orientation="P", unit="mm", format="A4")
    pdf.set_auto_page_break(auto=True, margin=15)
    pdf.add_font("sans", "", str(FONTS_DIR / "DejaVuSans.ttf"))
    pdf.add_font("sans", "B", str(FONTS_DIR / "DejaVuSans-Bold.ttf"))
    pdf.add_page()
    pdf.set_font("sans", "B", 15)
    pdf.cell(0, 9, "Pass numérique : relevé de remboursement", new_x="LMARGIN", new_y="NEXT")
    pdf.set_font("sans", "", 11)
    pdf.cell(0, 7, f"Mois de {statement.month}", new_x="LMARGIN", new_y="NEXT")
    pdf.ln(2)
    top = pdf.get_y()
    _party(pdf, "Lieu de médiation numérique (bénéficiaire du paiement)", statement.site, pdf.l_margin, 92)
    below_site = pdf.get_y()
    pdf.set_y(top)
    _party(pdf, "Payeur", statement.payer, pdf.l_margin + 98, 92)
    pdf.set_y(max(below_site, pdf.get_y()) + 3)
    pdf.set_x(pdf.l_margin)
    pdf.set_font("sans", "", 11)
    status = statement.state + (
        "" if statement.closed else " (relevé provisoire, le mois peut encore changer)"
    )
    for text in (
        f"État : {status}",
        f"{plural(statement.voucher_count, 'chèque utilisé', 'chèques utilisés')}  ·  "
        f"Total dû : {euros(statement.total_cents)}",
    ):
        pdf.cell(0, 7, text, new_x="LMARGIN", new_y="NEXT")
    if statement.paid_at is not None:
        pdf.cell(
            0,
            7,
            f"Payé le {day(statement.paid_at)}, référence {statement.payment_reference}",
            new_x="LMARGIN",
            new_y="NEXT",
        )
    pdf.ln(3)
    widths = (34, 34, 12, 84, 24)
    pdf.set_font("sans", "B", 9)
    for width, title in zip(widths, ("Date", "Carnet", "N°", "Thématique", "Valeur"), strict=True):
        pdf.cell(width, 7, title, border="B")
    pdf.ln()
    pdf.set_font("sans", "", 9)
    for line in statement.lines:
        cells = (
            day_and_time(line.redeemed_at),
            line.booklet_serial,
            str(line.voucher_number),
            _shorten(line.theme, 52),
            euros(line.face_value_cents),
        )
        for width, text in zip(widths, cells, strict=True):
            pdf.cell(width, 6, text)
        pdf.ln()
    pdf.set_font("sans", "B", 10)
    pdf.cell(sum(widths[:4]), 8, "Total", border="T")
    pdf.cell(widths[4], 8, euros(statement.total_cents), border="T")
    return bytes(pdf.output())
