"""Exports of reports and statements: CSV for French Excel, XLSX (openpyxl), statement PDF (fpdf2).

CSV is UTF-8 with a byte-order mark and ``;`` separators, euros with a decimal
comma (``12,50``), dates ``JJ/MM/AAAA``: what French Excel opens without a wizard.
The XLSX keeps numbers as numbers (euros formatted ``#,##0.00 €``).
"""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence
from datetime import date, datetime
from decimal import Decimal
from typing import Any

import msgspec

from pass_numerique.domain.clock import local_zone
from pass_numerique.domain.reimbursement.statements import Statement
from pass_numerique.domain.reports.dashboard import Report

_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


class Euros(Decimal):
    """A money amount: decimal comma in CSV, euro format in XLSX."""


class Table(msgspec.Struct, kw_only=True):
    name: str
    """Sheet name and CSV file stem."""
    header: list[str]
    rows: list[list[Any]]


def euros(cents: int) -> Euros:
    return Euros(Decimal(cents) / 100)


def _rate(value: float | None) -> Any:
    return None if value is None else round(value * 100, 1)


def _csv_cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, Euros | Decimal):
        return f"{value:.2f}".replace(".", ",")
    if isinstance(value, float):
        return f"{value}".replace(".", ",")
    if isinstance(value, datetime):
        return value.astimezone(local_zone()).strftime("%d/%m/%Y %H:%M")
    if isinstance(value, date):
        return value.strftime("%d/%m/%Y")
    if isinstance(value, bool):
        return "oui" if value else "non"
    text = str(value)
    # A site or structure name starting like a formula must stay text in Excel (CSV injection).
    return "'" + text if text[:1] in _FORMULA_START else text


def to_csv(table: Table) -> bytes:
    """UTF-8 with BOM, ``;`` separator, CRLF line ends."""
    out = io.StringIO()
    writer = csv.writer(out, delimiter=";", lineterminator="\r\n")
    writer.writerow(table.header)
    writer.writerows([_csv_cell(v) for v in row] for row in table.rows)
    return ("\ufeff" + out.getvalue()).encode("utf-8")


def to_xlsx(tables: Sequence[Table]) -> bytes:
    """One sheet per table, header in bold, euros as numbers with a euro format."""
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
                if isinstance(value, Decimal):
                    value = float(value)
                elif isinstance(value, datetime):
                    value = value.astimezone(local_zone()).replace(tzinfo=None)
                values.append(value)
            sheet.append(values)
            for index, value in enumerate(row):
                cell = sheet.cell(row=sheet.max_row, column=index + 1)
                if isinstance(value, Euros):
                    cell.number_format = '#,##0.00 "€"'
                elif isinstance(value, str) and value.startswith("="):
                    cell.data_type = "s"  # openpyxl would store it as a formula
        for index, title in enumerate(table.header):
            sheet.column_dimensions[sheet.cell(row=1, column=index + 1).column_letter].width = max(
                12, len(title) + 2
            )
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()


# ---------------------------------------------------------------------------
# the tables of a report and of a statement


def report_tables(report: Report) -> list[Table]:
    """The report as named tables (one per section), in French."""
    t = report.totals
    tables = [
        Table(
            name="synthese",
            header=["Indicateur", "Valeur"],
            rows=[
                ["Période du", report.start],
                ["au", report.end],
                ["Carnets imprimés", t.booklets_printed],
                ["Carnets attribués aux structures", t.booklets_allocated],
                ["Carnets remis", t.booklets_issued],
                ["Carnets entamés", t.booklets_started],
                ["Carnets entièrement utilisés", t.booklets_fully_used],
                ["Carnets en stock dormant", t.booklets_sleeping],
                ["Chèques remis", t.vouchers_issued],
                ["Chèques utilisés", t.vouchers_redeemed],
                ["Chèques annulés", t.vouchers_cancelled],
                ["Chèques reportés sur un carnet de remplacement", t.vouchers_replaced],
                ["Chèques expirés non utilisés", t.vouchers_expired_unused],
                ["Montant des chèques utilisés (€)", euros(t.amount_redeemed_cents)],
                ["Taux d'utilisation (%)", _rate(t.usage_rate)],
                ["Taux d'activation des carnets (%)", _rate(t.activation_rate)],
            ],
        ),
        Table(
            name="territoires",
            header=[
                "Territoire",
                "Imprimés",
                "Attribués",
                "Remis",
                "Entamés",
                "Entièrement utilisés",
                "Stock dormant",
                "Chèques remis",
                "Chèques utilisés",
                "Taux d'utilisation (%)",
                "Taux d'activation (%)",
            ],
            rows=[
                [
                    f.territory_name,
                    f.printed,
                    f.allocated,
                    f.issued,
                    f.started,
                    f.fully_used,
                    f.sleeping,
                    f.vouchers_issued,
                    f.vouchers_redeemed,
                    _rate(f.usage_rate),
                    _rate(f.activation_rate),
                ]
                for f in report.territories
            ],
        ),
        Table(
            name="structures",
            header=[
                "Structure",
                "Attribués",
                "Remis",
                "Entamés",
                "Entièrement utilisés",
                "Stock dormant",
                "Plus ancien (jours)",
                "Âge médian (jours)",
            ],
            rows=[
                [
                    s.structure_name,
                    s.allocated,
                    s.issued,
                    s.started,
                    s.fully_used,
                    s.sleeping,
                    s.oldest_sleeping_days,
                    s.median_sleeping_days,
                ]
                for s in report.structures
            ],
        ),
        Table(
            name="lieux",
            header=["Lieu", "Chèques utilisés", "Bénéficiaires distincts", "Montant (€)", "Thématiques"],
            rows=[
                [
                    s.site_name,
                    s.vouchers_redeemed,
                    s.beneficiaries,
                    euros(s.amount_cents),
                    ", ".join(f"{k} ({v})" for k, v in s.themes.items()),
                ]
                for s in report.sites
            ],
        ),
        Table(
            name="mois", header=["Mois", "Chèques utilisés"], rows=[[r.key, r.count] for r in report.by_month]
        ),
        Table(
            name="thematiques",
            header=["Thématique", "Chèques utilisés"],
            rows=[[r.label, r.count] for r in report.by_theme],
        ),
        Table(
            name="tranches_age",
            header=["Tranche d'âge", "Chèques utilisés"],
            rows=[[r.label, r.count] for r in report.by_age_band],
        ),
        Table(
            name="expiration",
            header=["Carnet", "Territoire", "Fin de validité", "Chèques non utilisés"],
            rows=[[b.serial, b.territory_id, b.valid_until, b.unused] for b in report.expiring_booklets],
        ),
    ]
    return tables


def statement_table(statement: Statement) -> Table:
    """The statement's lines, then its total."""
    rows: list[list[Any]] = [
        [
            line.redeemed_at,
            line.booklet_serial,
            line.voucher_number,
            line.theme,
            euros(line.face_value_cents),
            line.late,
        ]
        for line in statement.lines
    ]
    rows.append(["Total", "", statement.voucher_count, "", euros(statement.total_cents), ""])
    return Table(
        name=f"releve_{statement.site_id}_{statement.month}",
        header=["Date", "Carnet", "Chèque n°", "Thématique", "Valeur (€)", "Saisie différée"],
        rows=rows,
    )


def statement_pdf(statement: Statement) -> bytes:
    """A one-document A4 statement with the site, month, lines and total (DejaVu fonts embedded)."""
    from fpdf import FPDF

    from pass_numerique.rendering.booklet_pdf import FONTS_DIR

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
        f"Chèques : {statement.voucher_count}  ·  Total dû : {_csv_cell(euros(statement.total_cents))} €",
    ):
        pdf.cell(0, 7, text, new_x="LMARGIN", new_y="NEXT")
    if statement.payment:
        pdf.cell(
            0,
            7,
            f"Payé le {_csv_cell(statement.payment.paid_at)}, "
            f"référence {statement.payment.payment_reference}",
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
            _csv_cell(line.redeemed_at),
            line.booklet_serial,
            str(line.voucher_number),
            line.theme[:40],
            f"{_csv_cell(euros(line.face_value_cents))} €",
        )
        for width, text in zip(widths, cells, strict=True):
            pdf.cell(width, 6, text)
        pdf.ln()
    pdf.set_font("sans", "B", 10)
    pdf.cell(sum(widths[:4]), 8, "Total", border="T")
    pdf.cell(widths[4], 8, f"{_csv_cell(euros(statement.total_cents))} €", border="T")
    return bytes(pdf.output())
