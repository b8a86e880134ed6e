"""A statement as files: the table of its CSV and XLSX, and its PDF.

What goes in them is decided here, beside the statement; ``rendering`` only lays out what it
is given (``spreadsheets.Table``, ``statement_pdf.StatementDocument``). Times are turned into
the département's local time here, themes into their national labels (``value_lists``), and
the month and state into French words; the renderers print them as they are.
"""

from __future__ import annotations

from datetime import datetime

from pass_numerique.domain.clock import local_zone
from pass_numerique.domain.reimbursement.statements import STATE_LABELS, Statement
from pass_numerique.domain.scheme import value_lists
from pass_numerique.rendering.french_format import month_label
from pass_numerique.rendering.spreadsheets import Cell, Table, euros
from pass_numerique.rendering.statement_pdf import (
    PartyPrint,
    StatementDocument,
    StatementLinePrint,
    render_statement,
)


def _local(moment: datetime) -> datetime:
    return moment.astimezone(local_zone())


def _theme(code: str) -> str:
    return value_lists.label("thematique", code)


def statement_table(statement: Statement) -> Table:
    """The statement's lines, then its total: French headers, theme labels, local times."""
    rows: list[list[Cell]] = [
        [
            _local(line.redeemed_at),
            line.booklet_serial,
            line.voucher_number,
            _theme(line.theme),
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
    """What the statement's PDF prints: the site (name, SIRET, address), the payer, the month, lines."""
    payment = statement.payment
    return StatementDocument(
        site=PartyPrint(name=statement.site_name, siret=statement.siret, address=statement.site_address),
        payer=PartyPrint(name=statement.payer.name, siret=None, address=statement.payer.address),
        month=month_label(statement.month),
        state=STATE_LABELS[statement.state],
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
                theme=_theme(line.theme),
                face_value_cents=line.face_value_cents,
            )
            for line in statement.lines
        ],
    )


def statement_pdf(statement: Statement) -> bytes:
    """The statement as an A4 PDF (site, payer, month, lines, total)."""
    return render_statement(statement_document(statement))
