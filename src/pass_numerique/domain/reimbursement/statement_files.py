"""A statement as files: the table of its CSV and XLSX, and its PDF.

What goes in them is decided here, beside the statement; ``rendering`` only lays out what it
is given (``spreadsheets.Table``, ``statement_pdf.StatementDocument``). Times are turned into
the département's local time here, the renderers print them as they are.
"""

from __future__ import annotations

from datetime import datetime

from pass_numerique.domain.clock import local_zone
from pass_numerique.domain.reimbursement.statements import Statement
from pass_numerique.rendering.spreadsheets import Cell, Table, euros
from pass_numerique.rendering.statement_pdf import StatementDocument, StatementLinePrint, render_statement


def _local(moment: datetime) -> datetime:
    return moment.astimezone(local_zone())


def statement_table(statement: Statement) -> Table:
    """The statement's lines, then its total."""
    rows: list[list[Cell]] = [
        [
            _local(line.redeemed_at),
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


def statement_document(statement: Statement) -> StatementDocument:
    """What the statement's PDF prints."""
    payment = statement.payment
    return StatementDocument(
        site_name=statement.site_name,
        siret=statement.siret,
        month=statement.month,
        closed=statement.closed,
        voucher_count=statement.voucher_count,
        total_cents=statement.total_cents,
        paid_at=_local(payment.paid_at) if payment else None,
        payment_reference=payment.payment_reference if payment else "",
        lines=[
            StatementLinePrint(
                redeemed_at=_local(line.redeemed_at),
                booklet_serial=line.booklet_serial,
                voucher_number=line.voucher_number,
                theme=line.theme,
                face_value_cents=line.face_value_cents,
            )
            for line in statement.lines
        ],
    )


def statement_pdf(statement: Statement) -> bytes:
    """The statement as an A4 PDF (site, month, lines, total)."""
    return render_statement(statement_document(statement))
